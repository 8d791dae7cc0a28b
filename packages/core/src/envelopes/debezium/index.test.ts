import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../change-event.js';
import type { EnvelopeMessage } from '../envelope.js';
import { EnvelopeError } from '../envelope-error.js';
import {
  createEnvelope,
  type DebeziumEncodeOptions,
  decode,
  decodeKey,
  encode,
  NEW_KEY_HEADER,
  OLD_KEY_HEADER,
  SOURCE_VERSION,
  UNAVAILABLE_VALUE_PLACEHOLDER,
} from './index.js';

/** A value shaped after an example in Debezium's PostgreSQL connector documentation, with our equivalent event. */
interface DocumentedFixture {
  documentedAt: string;
  key: Record<string, unknown> | null;
  value: Record<string, unknown>;
  event: ChangeEvent;
}

const documented = new Map<string, DocumentedFixture>(
  readdirSync(new URL('./fixtures/', import.meta.url))
    .filter((name) => name.startsWith('documented-') && name.endsWith('.json'))
    .map((name) => [
      name.replace(/^documented-|\.json$/g, ''),
      JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as DocumentedFixture,
    ]),
);

const cdcFixtures = readdirSync(new URL('../cdc-v1/fixtures/', import.meta.url))
  .filter((name) => name.endsWith('.json'))
  .map((name) => {
    const { value } = JSON.parse(
      readFileSync(new URL(`../cdc-v1/fixtures/${name}`, import.meta.url), 'utf8'),
    ) as {
      value: ChangeEvent & { v?: number };
    };
    const { v: _v, ...event } = value;
    return [name, event as ChangeEvent] as const;
  });

const OPTIONS: DebeziumEncodeOptions = { serverName: 'shop', processedAtMs: 1_763_630_102_190 };

function payloadOf(value: Record<string, unknown>): Record<string, unknown> {
  return 'payload' in value && 'schema' in value ? (value.payload as Record<string, unknown>) : value;
}

function json(message: EnvelopeMessage | undefined): Record<string, unknown> {
  if (!message?.value) throw new Error('expected a message with a value');
  return JSON.parse(message.value.toString('utf8')) as Record<string, unknown>;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Values that depend on the environment (release, clock): compared by JSON type only. */
const BY_TYPE = new Set(['source.version', 'source.ts_us', 'source.ts_ns', 'ts_ms', 'ts_us', 'ts_ns']);

/**
 * Where we knowingly differ from the documented example, and why. Anything else that differs
 * in name, type or value fails the test.
 */
const KNOWN_DIFFERENCES: Record<string, (ours: unknown, documentedValue: unknown) => void> = {
  // The documented example shows a boolean; the connector's Source schema declares the
  // io.debezium.data.Enum string ("true", "false", "last", ...), and that is what it writes.
  'source.snapshot': (ours) => expect(ours).toMatch(/^(true|false)$/),
  // ["<commit lsn>","<lsn>"] as decimal strings; Debezium's first element is the previous
  // commit, ours the event's own commit (docs/events.md), so only the second is equal.
  'source.sequence': (ours, documentedValue) => {
    const [commit, lsn] = JSON.parse(ours as string) as [string, string];
    expect(commit).toMatch(/^\d+$/);
    expect(lsn).toMatch(/^\d+$/);
    if (typeof documentedValue === 'string') {
      expect(JSON.parse(documentedValue)).toEqual([expect.stringMatching(/^\d+$/), lsn]);
    }
  },
};

/** Fields we write that a documented example leaves out (the connector writes them too). */
const ADDED = new Set(['source.sequence', 'transaction', 'before', 'after']);

function expectSameStructure(ours: unknown, documentedValue: unknown, path = ''): void {
  const known = KNOWN_DIFFERENCES[path];
  if (known) {
    known(ours, documentedValue);
    return;
  }
  if (BY_TYPE.has(path)) {
    expect(jsonType(ours), path).toBe(jsonType(documentedValue));
    return;
  }
  if (path === 'before' || path === 'after' || jsonType(documentedValue) !== 'object') {
    expect(ours, path).toEqual(documentedValue);
    return;
  }
  const oursRecord = ours as Record<string, unknown>;
  const documentedRecord = documentedValue as Record<string, unknown>;
  for (const field of Object.keys(documentedRecord)) {
    const at = path === '' ? field : `${path}.${field}`;
    expect(Object.hasOwn(oursRecord, field), `${at} is missing`).toBe(true);
    expectSameStructure(oursRecord[field], documentedRecord[field], at);
  }
  for (const field of Object.keys(oursRecord)) {
    const at = path === '' ? field : `${path}.${field}`;
    if (!Object.hasOwn(documentedRecord, field))
      expect(ADDED.has(at), `${at} is not in the documented example`).toBe(true);
  }
}

function errorOf(call: () => unknown): EnvelopeError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(EnvelopeError);
    return error as EnvelopeError;
  }
  throw new Error('expected an EnvelopeError, nothing was thrown');
}

describe('Debezium envelope', () => {
  it('has a documented example for create, update, delete and truncate', () => {
    expect([...documented.keys()].sort()).toEqual(['create', 'delete', 'truncate', 'update']);
  });

  describe.each([...documented.entries()])('as documented: %s event', (_op, fixture) => {
    const payload = payloadOf(fixture.value);
    const options: DebeziumEncodeOptions = {
      serverName: (payload.source as Record<string, unknown>).name as string,
      processedAtMs: payload.ts_ms as number,
    };

    it('encoding our equivalent event gives the documented structure: field names, JSON types, op code', () => {
      const [message] = encode(fixture.event, options);
      expectSameStructure(json(message), payload);
      expect(json(message).op).toBe(payload.op);
    });

    it('writes the documented key', () => {
      const [message] = encode(fixture.event, options);
      expect(message?.key === null ? null : JSON.parse(message?.key?.toString() ?? '')).toEqual(fixture.key);
    });

    it('decodes the documented value (schemaless, or schema + payload) with its key', () => {
      const key = fixture.key === null ? null : JSON.stringify(fixture.key);
      const event = decode(JSON.stringify(fixture.value), key);
      expect(event?.op).toBe(fixture.event.op);
      expect(event?.key).toEqual(fixture.event.key);
      expect(event?.before).toEqual(fixture.event.before);
      expect(event?.after).toEqual(fixture.event.after);
      expect(event?.source).toMatchObject({
        db: fixture.event.source.db,
        schema: fixture.event.source.schema,
        table: fixture.event.source.table,
        lsn: fixture.event.source.lsn,
        txId: fixture.event.source.txId,
        commitTime: fixture.event.source.commitTime,
      });
    });
  });

  it('writes source.lsn as the 64-bit LSN integer and sequence as exact decimal strings', () => {
    const event = documented.get('create')?.event as ChangeEvent;
    const high: ChangeEvent = {
      ...event,
      source: { ...event.source, lsn: 'FFFFFFFF/FFFFFF00', commitLsn: 'FFFFFFFF/FFFFFFFF' },
    };
    const [message] = encode(high, OPTIONS);
    const text = message?.value?.toString() ?? '';
    expect(text).toContain('"lsn":18446744073709551360,');
    expect(text).toContain('"sequence":"[\\"18446744073709551615\\",\\"18446744073709551360\\"]"');
    expect(text).toContain('"ts_ns":1763630102113000000,');
    // JSON.parse rounds the number; decode reads the exact LSN from sequence.
    expect(decode(text, message?.key)?.source).toMatchObject({
      lsn: 'FFFFFFFF/FFFFFF00',
      commitLsn: 'FFFFFFFF/FFFFFFFF',
    });
  });

  it('writes the value fields in the order Debezium 2.7 does', () => {
    const [message] = encode(documented.get('update')?.event as ChangeEvent, OPTIONS);
    const value = json(message);
    expect(Object.keys(value)).toEqual([
      'before',
      'after',
      'source',
      'transaction',
      'op',
      'ts_ms',
      'ts_us',
      'ts_ns',
    ]);
    expect(Object.keys(value.source as object)).toEqual([
      'version',
      'connector',
      'name',
      'ts_ms',
      'snapshot',
      'db',
      'sequence',
      'ts_us',
      'ts_ns',
      'schema',
      'table',
      'txId',
      'lsn',
      'xmin',
    ]);
    expect(value.source).toMatchObject({
      version: SOURCE_VERSION,
      connector: 'postgresql',
      snapshot: 'false',
      xmin: null,
    });
    expect(value.transaction).toBeNull();
  });

  it('marks snapshot reads with snapshot "true" and op "r"', () => {
    const read = cdcFixtures.find(([name]) => name === 'snapshot-read.json')?.[1] as ChangeEvent;
    const value = json(encode(read, OPTIONS)[0]);
    expect(value.op).toBe('r');
    expect(value.source).toMatchObject({ snapshot: 'true', txId: null });
  });

  describe('deletes and tombstones', () => {
    const deletion = documented.get('delete')?.event as ChangeEvent;

    it('follows a delete with a tombstone (same key, null value) by default, as Debezium does', () => {
      const messages = encode(deletion, OPTIONS);
      expect(messages).toHaveLength(2);
      expect(messages[1]?.value).toBeNull();
      expect(messages[1]?.key).toEqual(messages[0]?.key);
      expect(decode(messages[1]?.value ?? null, messages[1]?.key)).toBeNull();
    });

    it('writes no tombstone with tombstonesOnDelete: false', () => {
      expect(encode(deletion, { ...OPTIONS, tombstonesOnDelete: false })).toHaveLength(1);
    });
  });

  describe('truncates', () => {
    const truncate = documented.get('truncate')?.event as ChangeEvent;

    it('writes op "t" with a null key', () => {
      const [message] = encode(truncate, OPTIONS);
      expect(message?.key).toBeNull();
      expect(json(message)).toMatchObject({ op: 't', before: null, after: null });
      expect(decode(message?.value ?? null)).toEqual(truncate);
    });

    it('leaves them out with emitTruncates: false (Debezium default skipped.operations=t)', () => {
      expect(encode(truncate, { ...OPTIONS, emitTruncates: false })).toEqual([]);
    });
  });

  describe('unchanged TOAST', () => {
    const update = cdcFixtures.find(([name]) => name === 'update-unchanged-toast.json')?.[1] as ChangeEvent;

    it('writes each unchanged TOAST column in after as __debezium_unavailable_value, and reads it back', () => {
      const [message] = encode(update, OPTIONS);
      expect((json(message).after as Record<string, unknown>).bio).toBe(UNAVAILABLE_VALUE_PLACEHOLDER);
      expect(decode(message?.value ?? null, message?.key)).toEqual(update);
    });

    it('uses a configured placeholder (unavailable.value.placeholder)', () => {
      const envelope = createEnvelope({
        serverName: 'shop',
        unavailableValuePlaceholder: '<toast>',
        clock: () => 0,
      });
      const [message] = envelope.encode(update);
      expect((json(message).after as Record<string, unknown>).bio).toBe('<toast>');
      expect(envelope.decode(message?.value ?? null, message?.key)).toEqual(update);
    });
  });

  describe('primary key changes', () => {
    const change = cdcFixtures.find(([name]) => name === 'update-primary-key.json')?.[1] as ChangeEvent;

    it('become a delete of the old key, its tombstone and a create of the new key, with Debezium headers', () => {
      const messages = encode(change, OPTIONS);
      expect(
        messages.map((message) => [
          message.key?.toString() ?? null,
          message.value === null ? null : json(message).op,
        ]),
      ).toEqual([
        ['{"id":"42"}', 'd'],
        ['{"id":"42"}', null],
        ['{"id":"43"}', 'c'],
      ]);
      expect(messages[0]?.headers).toEqual({ [NEW_KEY_HEADER]: '{"id":"43"}' });
      expect(messages[2]?.headers).toEqual({ [OLD_KEY_HEADER]: '{"id":"42"}' });
      expect(json(messages[0])).toMatchObject({ before: { id: '42' }, after: null });
      expect(json(messages[2])).toMatchObject({ before: null, after: change.after });
      const [deleted, , created] = messages.map((message) => decode(message.value, message.key));
      expect(deleted).toMatchObject({ op: 'd', key: { id: '42' }, before: { id: '42' }, after: null });
      expect(created).toMatchObject({ op: 'c', key: { id: '43' }, before: null, after: change.after });
    });

    it('without tombstones: the delete and the create', () => {
      expect(
        encode(change, { ...OPTIONS, tombstonesOnDelete: false }).map((message) => json(message).op),
      ).toEqual(['d', 'c']);
    });
  });

  describe('transaction metadata', () => {
    it('is null unless enabled; when enabled, numbers changes in the transaction and per table', () => {
      const base = cdcFixtures.find(([name]) => name === 'insert.json')?.[1] as ChangeEvent;
      const at = (seq: number, table: string, commitLsn = '0/1A2B4F0', txId = 1001): ChangeEvent => ({
        ...base,
        source: { ...base.source, table, seq, commitLsn, txId },
      });
      const envelope = createEnvelope({ serverName: 'shop', transactionMetadata: true, clock: () => 1 });
      const blocks = [at(0, 'users'), at(1, 'orders'), at(2, 'users'), at(0, 'users', '0/1A2C000', 1002)].map(
        (event) => json(envelope.encode(event)[0]).transaction,
      );
      expect(blocks).toEqual([
        { id: '1001:27440368', total_order: 1, data_collection_order: 1 },
        { id: '1001:27440368', total_order: 2, data_collection_order: 1 },
        { id: '1001:27440368', total_order: 3, data_collection_order: 2 },
        { id: '1002:27443200', total_order: 1, data_collection_order: 1 },
      ]);
      expect(json(createEnvelope({ serverName: 'shop' }).encode(base)[0]).transaction).toBeNull();
    });

    it('gives seq back on decode through total_order', () => {
      const event = cdcFixtures.find(([name]) => name === 'update-in-transaction.json')?.[1] as ChangeEvent;
      const [message] = encode(event, { ...OPTIONS, dataCollectionOrder: 2 });
      expect(decode(message?.value ?? null, message?.key)).toEqual(event);
      const [withoutBlock] = encode(event, OPTIONS);
      expect(decode(withoutBlock?.value ?? null, withoutBlock?.key)?.source.seq).toBe(0);
    });
  });

  it.each(cdcFixtures)(
    'round-trips %s (seq only through the transaction block, which snapshot reads lack)',
    (_name, event) => {
      const expected = event.source.txId === null ? { ...event, source: { ...event.source, seq: 0 } } : event;
      for (const message of encode(event, { ...OPTIONS, dataCollectionOrder: 1 })) {
        const decoded = decode(message.value, message.key);
        if (message.value === null) expect(decoded).toBeNull();
        else if (
          message.headers[NEW_KEY_HEADER] === undefined &&
          message.headers[OLD_KEY_HEADER] === undefined
        ) {
          expect(decoded).toEqual(expected);
        }
      }
    },
  );

  describe('decoding messages written by Debezium itself', () => {
    it('takes commitLsn as lsn when sequence starts with the previous commit', () => {
      const fixture = documented.get('create') as DocumentedFixture;
      const event = decode(JSON.stringify(fixture.value), '{"id":7}');
      expect(event?.source.commitLsn).toBe(event?.source.lsn);
    });

    it('reads keys with or without their Connect schema', () => {
      expect(decodeKey('{"id":7}')).toEqual({ id: 7 });
      expect(decodeKey('{"schema":{"type":"struct","fields":[]},"payload":{"id":7}}')).toEqual({ id: 7 });
      expect(decodeKey('null')).toBeNull();
    });
  });

  describe('refuses what it cannot turn into a change event, saying why', () => {
    const create = documented.get('create') as DocumentedFixture;
    const payload = payloadOf(create.value);

    it('a row event without its message key', () => {
      expect(errorOf(() => decode(JSON.stringify(payload))).message).toBe(
        'debezium key: a Debezium value does not say which columns form the key; pass the message key to decode an op "c" event',
      );
    });

    it('a logical decoding message, another connector, a cdc value', () => {
      expect(errorOf(() => decode(JSON.stringify({ ...payload, op: 'm' }), '{}')).message).toMatch(
        /^debezium op: a logical decoding message/,
      );
      const mysql = { ...payload, source: { ...(payload.source as object), connector: 'mysql' } };
      expect(errorOf(() => decode(JSON.stringify(mysql), '{"id":7}')).message).toMatch(
        /^debezium source.connector: expected "postgresql"/,
      );
      expect(errorOf(() => decode('{"v":1,"op":"c"}', '{"id":7}')).message).toMatch(
        /decode it with the cdc envelope/,
      );
    });

    it('an LSN that a JSON number cannot hold, without sequence', () => {
      const source: Record<string, unknown> = {
        ...(payload.source as Record<string, unknown>),
        lsn: 2 ** 60,
      };
      delete source.sequence;
      expect(errorOf(() => decode(JSON.stringify({ ...payload, source }), '{"id":7}')).message).toMatch(
        /^debezium source.lsn: expected the LSN as an integer below 2\^53/,
      );
    });

    it('an lsn that disagrees with sequence', () => {
      const source = { ...(payload.source as Record<string, unknown>), lsn: 1 };
      expect(errorOf(() => decode(JSON.stringify({ ...payload, source }), '{"id":7}')).message).toMatch(
        /^debezium source.lsn: 1 disagrees with sequence, which says \d+; the message is corrupt/,
      );
    });

    it('a malformed sequence', () => {
      const source = { ...(payload.source as Record<string, unknown>), sequence: '[1,2]' };
      expect(errorOf(() => decode(JSON.stringify({ ...payload, source }), '{"id":7}')).message).toMatch(
        /^debezium source.sequence: expected the JSON text/,
      );
    });
  });
});
