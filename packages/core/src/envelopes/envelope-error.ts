/**
 * Why an envelope refused a message or an event. `message` is one line: which envelope, where
 * in the value, what is wrong and what to do.
 */
export type EnvelopeErrorCode =
  /** The bytes are not UTF-8 JSON. */
  | 'ENVELOPE_NOT_JSON'
  /** JSON, but not the envelope's shape (a field missing, of the wrong type, or inconsistent). */
  | 'ENVELOPE_INVALID'
  /** A cdc envelope of a version this code does not understand. */
  | 'ENVELOPE_VERSION'
  /** A topic prefix or name Kafka would refuse. */
  | 'TOPIC_NAME';

export class EnvelopeError extends Error {
  constructor(
    readonly code: EnvelopeErrorCode,
    /** The envelope ("cdc", "debezium") or "topic". */
    readonly envelope: string,
    /** Where in the value, as a dotted path ("source.lsn"); "" for the whole value. */
    readonly path: string,
    /** The problem without the location: `<what is wrong>; <what to do>`. */
    readonly problem: string,
  ) {
    super(`${envelope}${path === '' ? '' : ` ${path}`}: ${problem}`);
    this.name = 'EnvelopeError';
  }
}
