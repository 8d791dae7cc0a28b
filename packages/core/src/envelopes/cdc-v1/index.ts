/**
 * The cdc envelope, version 1: the default event format on Kafka (docs/events.md).
 *
 * Key: canonical JSON of the primary key (`{"id":"42"}`); a truncate, which has no key, is
 * keyed `null` and goes to every partition. Value: the change event as JSON with the version
 * marker `v: 1` first:
 * `{ v, op, source: { db, schema, table, lsn, commitLsn, txId, commitTime, seq }, key, before, after, unchangedToast }`.
 *
 * The marker is a field, not a header: it travels with the value wherever the value is copied
 * (dead-letter topics, archives, mirrors and tools that drop headers), and any JSON reader sees
 * it. It changes only for a breaking change; fields may be added within v1, so readers ignore
 * fields they do not know.
 */
import { type ChangeEvent, canonicalJson, type RowImage } from '../../change-event.js';
import { checkChangeEvent } from '../change-event-shape.js';
import type { Envelope, EnvelopeMessage, MessageBytes } from '../envelope.js';
import { describe, invalid, isRecord, parseMessageJson } from '../json.js';

const NAME = 'cdc';

/** The version this module writes and reads. */
export const VERSION = 1;

/** The message value: the change event and its version marker. */
export interface CdcV1Value extends ChangeEvent {
  v: typeof VERSION;
}

/** The message value of an event, fields in contract order. Throws an EnvelopeError for an event that breaks the contract. */
export function encodeValue(event: ChangeEvent): Buffer {
  const checked = checkChangeEvent(event, NAME);
  const { source } = checked;
  const value: CdcV1Value = {
    v: VERSION,
    op: checked.op,
    source: {
      db: source.db,
      schema: source.schema,
      table: source.table,
      lsn: source.lsn,
      commitLsn: source.commitLsn,
      txId: source.txId,
      commitTime: source.commitTime,
      seq: source.seq,
    },
    key: checked.key,
    before: checked.before,
    after: checked.after,
    unchangedToast: checked.unchangedToast,
  };
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** The message key of an event: canonical JSON of its primary key, or `null` for a truncate. */
export function encodeKey(event: Pick<ChangeEvent, 'key'>): Buffer {
  return Buffer.from(canonicalJson(event.key), 'utf8');
}

/** The one message of an event (no headers: the version marker is in the value). */
export function encode(event: ChangeEvent): EnvelopeMessage[] {
  return [{ key: encodeKey(event), value: encodeValue(event), headers: {} }];
}

/**
 * The change event in a message value. Checks the version marker, then every field of the
 * contract; fields it does not know are ignored. Throws an EnvelopeError naming the field.
 */
export function decode(value: MessageBytes | null): ChangeEvent {
  if (value === null) {
    invalid(
      NAME,
      '',
      'the message has no value (a tombstone); cdc v1 never writes tombstones: is this a Debezium-envelope topic?',
    );
  }
  const json = parseMessageJson(value, NAME, 'the message value');
  if (!isRecord(json)) invalid(NAME, '', `expected a JSON object, got ${describe(json)}`);
  const version = json.v;
  if (version === undefined) {
    const debezium = isRecord(json.payload) || (isRecord(json.source) && 'connector' in json.source);
    invalid(
      NAME,
      'v',
      debezium
        ? 'no version marker; this looks like a Debezium-envelope value: decode it with the debezium envelope (config envelope: debezium)'
        : 'no version marker; this value was not written by a cdc-cache producer (send it to the dead-letter topic)',
    );
  }
  if (version !== VERSION) {
    invalid(
      NAME,
      'v',
      `envelope version ${describe(version)} is not understood by this reader, which reads v${VERSION}; upgrade @cdc-cache/core in this consumer`,
      'ENVELOPE_VERSION',
    );
  }
  return checkChangeEvent(json, NAME);
}

/** The primary key in a message key; null for a truncate. */
export function decodeKey(key: MessageBytes): RowImage | null {
  const json = parseMessageJson(key, NAME, 'the message key');
  if (json === null) return null;
  if (!isRecord(json) || Object.keys(json).length === 0) {
    invalid(
      NAME,
      'key',
      `expected the primary key columns as a JSON object, or null for a truncate, got ${describe(json)}`,
    );
  }
  return json;
}

/** The cdc v1 envelope (config `envelope: cdc`). */
export const envelope: Envelope = { name: 'cdc', encode, decode };
