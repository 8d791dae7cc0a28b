/**
 * The Debezium-compatible envelope (config `envelope: debezium`): what Debezium's PostgreSQL
 * connector writes with Kafka Connect's JsonConverter and `schemas.enable=false`, so that
 * existing Debezium consumers can switch to cdc-cache (docs/events.md, "Debezium-compatible
 * envelope", lists every difference).
 *
 * Key: `{"id":1}`, the primary key columns as JSON (canonical: sorted, no spaces); null for a
 * truncate, as Debezium writes it. Value:
 * `{ before, after, source: { version, connector: "postgresql", name, ts_ms, snapshot, db,
 * sequence, ts_us, ts_ns, schema, table, txId, lsn, xmin }, transaction, op, ts_ms, ts_us, ts_ns }`.
 *
 * - `source.lsn` is the 64-bit LSN as a JSON integer; `source.sequence` is the JSON text
 *   `["<commit lsn>","<lsn>"]` with both LSNs as decimal strings (exact, unlike numbers).
 * - A delete is followed by a tombstone (same key, null value) unless `tombstonesOnDelete` is off.
 * - An update that changes the primary key becomes a delete (old key, header
 *   `__debezium.newkey`), its tombstone, and a create (new key, header `__debezium.oldkey`).
 * - An unchanged TOAST column (our `unchangedToast`) is written in `after` with the value
 *   `__debezium_unavailable_value` (Debezium's `unavailable.value.placeholder`).
 * - Only the schemaless form is written: a ChangeEvent has values but no column types, and an
 *   invented Connect schema would mislead consumers that trust it (a JDBC sink creating
 *   columns). decode() accepts both forms.
 */
import { type ChangeEvent, type ChangeOp, canonicalJson, type RowImage } from '../../change-event.js';
import { formatLsn, parseLsn } from '../../lsn.js';
import { checkChangeEvent } from '../change-event-shape.js';
import type { Envelope, EnvelopeMessage, MessageBytes } from '../envelope.js';
import { describe, invalid, isRecord, jsonWithBigInts, parseMessageJson } from '../json.js';

const NAME = 'debezium';

/** Debezium's default `unavailable.value.placeholder`. */
export const UNAVAILABLE_VALUE_PLACEHOLDER = '__debezium_unavailable_value';

/**
 * Written as `source.version`: the Debezium release whose envelope this follows (2.7, the one
 * the benchmark runs beside), with cdc-cache as the qualifier where Debezium writes "Final".
 */
export const SOURCE_VERSION = '2.7.0.cdc-cache';

/** Header on the delete of a primary-key change: the row's new key. */
export const NEW_KEY_HEADER = '__debezium.newkey';
/** Header on the create of a primary-key change: the row's old key. */
export const OLD_KEY_HEADER = '__debezium.oldkey';

/** The message value as JSON.parse returns it (lsn and ts_ns may exceed 2^53 and lose precision there: use `sequence`). */
export interface DebeziumValue {
  before: RowImage | null;
  after: RowImage | null;
  source: DebeziumSource;
  transaction: DebeziumTransaction | null;
  op: ChangeOp;
  ts_ms: number;
  ts_us: number;
  ts_ns: number;
}

export interface DebeziumSource {
  version: string;
  connector: 'postgresql';
  /** Debezium's `topic.prefix` (the logical server name). */
  name: string;
  /** Commit time, ms since the epoch. */
  ts_ms: number;
  /** "true" for snapshot reads, "false" otherwise (Debezium writes the enum as a string). */
  snapshot: 'true' | 'false';
  db: string;
  /** JSON text `["<commit lsn>","<lsn>"]`, decimal. */
  sequence: string;
  ts_us: number;
  ts_ns: number;
  schema: string;
  table: string;
  txId: number | null;
  lsn: number;
  /** Always null (Debezium fills it only with `xmin.fetch.interval.ms`). */
  xmin: null;
}

/** Written when transaction metadata is on (`provide.transaction.metadata`). */
export interface DebeziumTransaction {
  /** `<txId>:<commit LSN as an integer>`: unique even after xid wraparound. */
  id: string;
  /** Position of the change in its transaction, 1-based (our `seq` + 1). */
  total_order: number;
  /** Position among the transaction's changes of the same table, 1-based. */
  data_collection_order: number;
}

/** Settings of the envelope, named after the Debezium connector properties they mirror. */
export interface DebeziumOptions {
  /** `topic.prefix`: written as `source.name`. Usually the cdc-cache topic prefix. */
  serverName: string;
  /** `source.version`; default SOURCE_VERSION. */
  sourceVersion?: string;
  /** `tombstones.on.delete`: follow each delete with a tombstone. Default true, as Debezium. */
  tombstonesOnDelete?: boolean;
  /**
   * Write truncates (op "t"). Default true: cache invalidation relies on them. Debezium's default
   * (`skipped.operations=t`) leaves them out; set false to match it.
   */
  emitTruncates?: boolean;
  /** `provide.transaction.metadata`: write the `transaction` block. Default false (null), as Debezium. */
  transactionMetadata?: boolean;
  /** `unavailable.value.placeholder`; default UNAVAILABLE_VALUE_PLACEHOLDER. */
  unavailableValuePlaceholder?: string;
  /** Milliseconds since the epoch, for the envelope's `ts_ms` (when the event was processed). Default Date.now. */
  clock?: () => number;
}

/** What encode() needs for one event: the settings, the processing time and the table position. */
export interface DebeziumEncodeOptions extends Omit<DebeziumOptions, 'clock' | 'transactionMetadata'> {
  /** The envelope's `ts_ms`. */
  processedAtMs: number;
  /**
   * Position of the event among its transaction's events of the same table (1-based). When set,
   * the `transaction` block is written; otherwise it is null.
   */
  dataCollectionOrder?: number;
}

/**
 * The messages of one event, in write order. Pure: the caller supplies the processing time and
 * the table position (createEnvelope() does both). Throws an EnvelopeError for an event that
 * breaks the contract.
 */
export function encode(event: ChangeEvent, options: DebeziumEncodeOptions): EnvelopeMessage[] {
  const checked = checkChangeEvent(event, NAME);
  if (checked.op === 't' && options.emitTruncates === false) return [];
  const tombstones = options.tombstonesOnDelete ?? true;

  const oldKey = primaryKeyBefore(checked);
  if (oldKey !== null) {
    const oldKeyBytes = encodeKey(oldKey);
    const newKeyBytes = encodeKey(checked.key);
    const messages: EnvelopeMessage[] = [
      {
        key: oldKeyBytes,
        value: valueBytes(checked, 'd', checked.before, null, [], options),
        headers: { [NEW_KEY_HEADER]: canonicalJson(checked.key) },
      },
    ];
    if (tombstones) messages.push({ key: oldKeyBytes, value: null, headers: {} });
    messages.push({
      key: newKeyBytes,
      value: valueBytes(checked, 'c', null, checked.after, checked.unchangedToast, options),
      headers: { [OLD_KEY_HEADER]: canonicalJson(oldKey) },
    });
    return messages;
  }

  const key = encodeKey(checked.key);
  const messages: EnvelopeMessage[] = [
    {
      key,
      value: valueBytes(checked, checked.op, checked.before, checked.after, checked.unchangedToast, options),
      headers: {},
    },
  ];
  if (checked.op === 'd' && tombstones) messages.push({ key, value: null, headers: {} });
  return messages;
}

/** The message key: the primary key columns as canonical JSON, or null (a truncate). */
export function encodeKey(key: RowImage | null): Buffer | null {
  return key === null ? null : Buffer.from(canonicalJson(key), 'utf8');
}

/**
 * The Debezium envelope for a worker: keeps the processing clock and counts each transaction's
 * events per table for `transaction.data_collection_order`, so events must be encoded in
 * stream order (a replay starts at a transaction's beginning, so the counts come out the same).
 */
export function createEnvelope(options: DebeziumOptions): Envelope {
  const clock = options.clock ?? Date.now;
  const placeholder = options.unavailableValuePlaceholder ?? UNAVAILABLE_VALUE_PLACEHOLDER;
  let transaction: string | null = null;
  const perTable = new Map<string, number>();
  const dataCollectionOrder = (event: ChangeEvent): number | undefined => {
    if (!options.transactionMetadata || event.source.txId === null) return undefined;
    const id = transactionId(event);
    if (id !== transaction) {
      transaction = id;
      perTable.clear();
    }
    const table = `${event.source.schema}.${event.source.table}`;
    const order = (perTable.get(table) ?? 0) + 1;
    perTable.set(table, order);
    return order;
  };
  return {
    name: 'debezium',
    encode: (event) => {
      const order = dataCollectionOrder(event);
      return encode(event, {
        ...options,
        processedAtMs: clock(),
        ...(order === undefined ? {} : { dataCollectionOrder: order }),
      });
    },
    decode: (value, key) => decode(value, key, { unavailableValuePlaceholder: placeholder }),
  };
}

/**
 * The change event in a Debezium message value (schemaless, or `schema` + `payload`); null for
 * a tombstone. The key is the message key: a row event needs it (Debezium's value does not say
 * which columns form the key); a truncate has none.
 *
 * From cdc-cache's messages the event comes back exactly, except `seq`, which only the
 * transaction block carries (0 without it). From Debezium's own messages: `commitLsn` is not
 * written by Debezium (its `sequence` starts with the previous commit), so it becomes `lsn`, a
 * lower bound; `commitTime` has Debezium's `source.ts_ms`.
 */
export function decode(
  value: MessageBytes | null,
  key?: MessageBytes | null,
  options: { unavailableValuePlaceholder?: string } = {},
): ChangeEvent | null {
  if (value === null) return null;
  const json = parseMessageJson(value, NAME, 'the message value');
  const wrapped = isRecord(json) && 'payload' in json && 'schema' in json;
  const payload = wrapped ? json.payload : json;
  const at = wrapped ? 'payload.' : '';
  if (payload === null) return null;
  if (!isRecord(payload))
    invalid(NAME, at.slice(0, -1), `expected the envelope object, got ${describe(payload)}`);
  if (isRecord(json) && 'v' in json && !wrapped) {
    invalid(
      NAME,
      'v',
      'this is a cdc-envelope value (it has the version marker v); decode it with the cdc envelope (config envelope: cdc)',
    );
  }

  const op = payload.op;
  if (op === 'm') {
    invalid(NAME, `${at}op`, 'a logical decoding message (op "m") is not a row change; skip it');
  }
  if (typeof op !== 'string' || !['c', 'u', 'd', 'r', 't'].includes(op)) {
    invalid(NAME, `${at}op`, `expected one of "c", "u", "d", "r", "t", got ${describe(op)}`);
  }
  const source = payload.source;
  if (!isRecord(source)) invalid(NAME, `${at}source`, `expected an object, got ${describe(source)}`);
  if (source.connector !== 'postgresql') {
    invalid(
      NAME,
      `${at}source.connector`,
      `expected "postgresql", got ${describe(source.connector)}; only PostgreSQL events are change events here`,
    );
  }

  const { lsn, commitLsn } = positions(source, `${at}source`);
  const tsMs = source.ts_ms;
  if (typeof tsMs !== 'number' || !Number.isSafeInteger(tsMs)) {
    invalid(
      NAME,
      `${at}source.ts_ms`,
      `expected the commit time in ms since the epoch, got ${describe(tsMs)}`,
    );
  }
  const placeholder = options.unavailableValuePlaceholder ?? UNAVAILABLE_VALUE_PLACEHOLDER;
  const after = rowOrNull(payload.after, `${at}after`);
  const unchangedToast: string[] = [];
  if (after) {
    for (const [column, item] of Object.entries(after)) {
      if (item === placeholder) {
        unchangedToast.push(column);
        delete after[column];
      }
    }
  }

  const event = {
    op,
    source: {
      db: source.db,
      schema: source.schema,
      table: source.table,
      lsn,
      commitLsn,
      txId: source.txId ?? null,
      commitTime: new Date(tsMs).toISOString(),
      seq: seqOf(payload.transaction, `${at}transaction`),
    },
    key: keyOf(key, op as ChangeOp),
    before: rowOrNull(payload.before, `${at}before`),
    after,
    unchangedToast,
  };
  return checkChangeEvent(event, NAME, 'decoded event', { toastInCreates: true });
}

/** The primary key in a Debezium message key (schemaless or `schema` + `payload`); null for a truncate. */
export function decodeKey(key: MessageBytes): RowImage | null {
  const json = parseMessageJson(key, NAME, 'the message key');
  const payload = isRecord(json) && 'payload' in json && 'schema' in json ? json.payload : json;
  if (payload === null) return null;
  if (!isRecord(payload) || Object.keys(payload).length === 0) {
    invalid(NAME, 'key', `expected the primary key columns as a JSON object, got ${describe(payload)}`);
  }
  return payload;
}

// ---------------------------------------------------------------------------------------------

function valueBytes(
  event: ChangeEvent,
  op: ChangeOp,
  before: RowImage | null,
  after: RowImage | null,
  unchangedToast: string[],
  options: DebeziumEncodeOptions,
): Buffer {
  const { source } = event;
  const placeholder = options.unavailableValuePlaceholder ?? UNAVAILABLE_VALUE_PLACEHOLDER;
  const commitMs = BigInt(Date.parse(source.commitTime));
  const processedMs = BigInt(Math.trunc(options.processedAtMs));
  const lsn = parseLsn(source.lsn);
  const commitLsn = parseLsn(source.commitLsn);
  let afterImage = after;
  if (after && unchangedToast.length > 0) {
    afterImage = { ...after };
    for (const column of unchangedToast) afterImage[column] = placeholder;
  }
  const transaction =
    options.dataCollectionOrder === undefined || source.txId === null
      ? null
      : {
          id: transactionId(event),
          total_order: source.seq + 1,
          data_collection_order: options.dataCollectionOrder,
        };
  // Field order as Debezium 2.7 writes it.
  const value = {
    before,
    after: afterImage,
    source: {
      version: options.sourceVersion ?? SOURCE_VERSION,
      connector: 'postgresql',
      name: options.serverName,
      ts_ms: commitMs,
      snapshot: op === 'r' ? 'true' : 'false',
      db: source.db,
      sequence: JSON.stringify([commitLsn.toString(), lsn.toString()]),
      ts_us: commitMs * 1000n,
      ts_ns: commitMs * 1_000_000n,
      schema: source.schema,
      table: source.table,
      txId: source.txId,
      lsn,
      xmin: null,
    },
    transaction,
    op,
    ts_ms: processedMs,
    ts_us: processedMs * 1000n,
    ts_ns: processedMs * 1_000_000n,
  };
  return Buffer.from(jsonWithBigInts(value), 'utf8');
}

function transactionId(event: ChangeEvent): string {
  return `${event.source.txId}:${parseLsn(event.source.commitLsn)}`;
}

/** The old primary key of an update that changed it; null for every other event. */
function primaryKeyBefore(event: ChangeEvent): RowImage | null {
  if (event.op !== 'u' || event.before === null || event.key === null) return null;
  const before = event.before;
  const oldKey: RowImage = {};
  for (const column of Object.keys(event.key)) {
    if (!Object.hasOwn(before, column)) return null;
    oldKey[column] = before[column];
  }
  return canonicalJson(oldKey) === canonicalJson(event.key) ? null : oldKey;
}

const DECIMAL = /^\d{1,20}$/;

/** lsn from `sequence[1]` (exact) or `lsn`; commitLsn from `sequence[0]` when it is not before lsn. */
function positions(source: Record<string, unknown>, at: string): { lsn: string; commitLsn: string } {
  let fromSequence: [bigint | null, bigint | null] = [null, null];
  if (source.sequence !== undefined && source.sequence !== null) {
    const text = source.sequence;
    let parsed: unknown;
    try {
      parsed = typeof text === 'string' ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (
      !Array.isArray(parsed) ||
      parsed.length !== 2 ||
      !parsed.every((item) => item === null || (typeof item === 'string' && DECIMAL.test(item)))
    ) {
      invalid(
        NAME,
        `${at}.sequence`,
        `expected the JSON text ["<last commit lsn>","<lsn>"] with decimal LSNs or null, got ${describe(text)}`,
      );
    }
    fromSequence = [lsnNumber(parsed[0], `${at}.sequence`), lsnNumber(parsed[1], `${at}.sequence`)];
  }
  let lsn = fromSequence[1];
  const number = source.lsn;
  if (lsn !== null && typeof number === 'number' && Number.isSafeInteger(number) && BigInt(number) !== lsn) {
    invalid(
      NAME,
      `${at}.lsn`,
      `${number} disagrees with sequence, which says ${lsn}; the message is corrupt (send it to the dead-letter topic)`,
    );
  }
  if (lsn === null) {
    if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) {
      invalid(
        NAME,
        `${at}.lsn`,
        `expected the LSN as an integer below 2^53 (or in sequence), got ${describe(number)}; larger LSNs lose precision as JSON numbers`,
      );
    }
    lsn = BigInt(number);
  }
  const commit = fromSequence[0] !== null && fromSequence[0] >= lsn ? fromSequence[0] : lsn;
  return { lsn: formatLsn(lsn), commitLsn: formatLsn(commit) };
}

function lsnNumber(text: string | null | undefined, at: string): bigint | null {
  if (text === null || text === undefined) return null;
  const value = BigInt(text);
  if (value > 0xffff_ffff_ffff_ffffn) invalid(NAME, at, `LSN ${text} does not fit 64 bits`);
  return value;
}

function rowOrNull(value: unknown, at: string): RowImage | null {
  if (value === undefined || value === null) return null;
  if (!isRecord(value)) invalid(NAME, at, `expected a row object or null, got ${describe(value)}`);
  return { ...value };
}

function seqOf(transaction: unknown, at: string): number {
  if (transaction === undefined || transaction === null) return 0;
  if (!isRecord(transaction)) invalid(NAME, at, `expected an object or null, got ${describe(transaction)}`);
  const order = transaction.total_order;
  const number = typeof order === 'string' && /^\d+$/.test(order) ? Number(order) : order;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 1) {
    invalid(
      NAME,
      `${at}.total_order`,
      `expected the 1-based position in the transaction, got ${describe(order)}`,
    );
  }
  return number - 1;
}

function keyOf(key: MessageBytes | null | undefined, op: ChangeOp): RowImage | null {
  if (key === undefined || key === null) {
    if (op === 't') return null;
    invalid(
      NAME,
      'key',
      `a Debezium value does not say which columns form the key; pass the message key to decode an op "${op}" event`,
    );
  }
  return decodeKey(key);
}
