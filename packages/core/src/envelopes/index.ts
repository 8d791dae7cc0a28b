/**
 * Kafka event envelopes: how a change event is written to Kafka and read back. Each version is
 * a module of its own with its fixtures and tests (`cdc-v1/`, `debezium/`); the contract for
 * subscribers is docs/events.md.
 */

import * as cdcV1 from './cdc-v1/index.js';
import * as debezium from './debezium/index.js';
import type { Envelope, EnvelopeName } from './envelope.js';

export type { Envelope, EnvelopeMessage, EnvelopeName, MessageBytes } from './envelope.js';
export { EnvelopeError, type EnvelopeErrorCode } from './envelope-error.js';
export {
  createEventEncoder,
  type EnvelopeRecord,
  type EventEncoder,
  mustReachEveryPartition,
  recordsFor,
} from './kafka-records.js';
export { encodeTopicPart, MAX_TOPIC_LENGTH, topicFor } from './topic.js';
export { cdcV1, debezium };

/**
 * The envelope a config names (`envelope: cdc | debezium`). The Debezium one needs its
 * settings; `serverName` defaults to the topic prefix.
 */
export function envelopeNamed(
  name: EnvelopeName,
  options: { topicPrefix: string; debezium?: Partial<debezium.DebeziumOptions> },
): Envelope {
  if (name === 'cdc') return cdcV1.envelope;
  return debezium.createEnvelope({ serverName: options.topicPrefix, ...options.debezium });
}
