import type { ChangeEvent } from '../change-event.js';
import type { Envelope, EnvelopeMessage } from './envelope.js';
import { topicFor } from './topic.js';

/**
 * True when the event must be written to every partition of its topic rather than to the
 * partition of its key: a truncate. Row events are keyed by their primary key, so one row's
 * changes share a partition and keep commit order; a truncate concerns every row, so it has to
 * follow every earlier change in every partition. Consumers see one copy per partition (the
 * copies are identical, same lsn) and must treat them idempotently (docs/events.md).
 */
export function mustReachEveryPartition(event: Pick<ChangeEvent, 'op'>): boolean {
  return event.op === 't';
}

/** A message with its destination: structurally a `@cdc-cache/kafka` ProducerRecord. */
export interface EnvelopeRecord extends EnvelopeMessage {
  topic: string;
  /** Set for the copies of an event that must reach every partition; otherwise the key decides. */
  partition?: number;
}

/**
 * The Kafka records for one event's messages: as they are, keyed; or, for an event that must
 * reach every partition, one copy of each message per partition, in partition order.
 */
export function recordsFor(
  topic: string,
  event: ChangeEvent,
  messages: EnvelopeMessage[],
  partitions: number,
): EnvelopeRecord[] {
  if (!mustReachEveryPartition(event)) return messages.map((message) => ({ topic, ...message }));
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new RangeError(
      `topic ${topic}: got ${partitions} partitions; a truncate goes to every partition, so pass the topic's partition count (at least 1)`,
    );
  }
  const records: EnvelopeRecord[] = [];
  for (let partition = 0; partition < partitions; partition++) {
    for (const message of messages) records.push({ topic, partition, ...message });
  }
  return records;
}

/**
 * What the replicator needs to write events (its EventEncoder): the topic of an event and its
 * records, in the configured envelope.
 */
export interface EventEncoder {
  topic(event: ChangeEvent): string;
  records(event: ChangeEvent, partitions: number): EnvelopeRecord[];
}

export function createEventEncoder(options: { envelope: Envelope; topicPrefix: string }): EventEncoder {
  const { envelope, topicPrefix } = options;
  const topics = new Map<string, string>();
  const topic = (event: ChangeEvent): string => {
    const table = `${event.source.schema}\u0000${event.source.table}`;
    let name = topics.get(table);
    if (name === undefined) {
      name = topicFor(topicPrefix, event.source.schema, event.source.table);
      topics.set(table, name);
    }
    return name;
  };
  return {
    topic,
    records: (event, partitions) => recordsFor(topic(event), event, envelope.encode(event), partitions),
  };
}
