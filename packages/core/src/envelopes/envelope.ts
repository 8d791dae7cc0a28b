import type { ChangeEvent } from '../change-event.js';

/** Bytes of a Kafka message key or value as clients hand them over. */
export type MessageBytes = Buffer | Uint8Array | string;

/** The event formats a topic can carry (config `envelope`). */
export type EnvelopeName = 'cdc' | 'debezium';

/** One Kafka message an envelope writes for an event (the topic and partition are chosen apart). */
export interface EnvelopeMessage {
  /** null only for a Debezium truncate (Debezium writes truncates without a key). */
  key: Buffer | null;
  /** null for a Debezium tombstone. */
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * A versioned event format: what goes into Kafka for a change event and back. Each lives in
 * its own folder (`cdc-v1/`, `debezium/`) with its fixtures and tests.
 */
export interface Envelope {
  readonly name: EnvelopeName;
  /**
   * The messages for one event, in the order they must be written (Debezium: a delete, then
   * its tombstone). Empty when the envelope is configured to skip the event. Throws an
   * EnvelopeError for an event that breaks the contract, before it reaches Kafka.
   */
  encode(event: ChangeEvent): EnvelopeMessage[];
  /**
   * The change event in a message; null for a tombstone. Throws an EnvelopeError naming the
   * field when the message is not of this envelope.
   */
  decode(value: MessageBytes | null, key?: MessageBytes | null): ChangeEvent | null;
}
