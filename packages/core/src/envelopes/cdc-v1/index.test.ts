import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../change-event.js';
import { EnvelopeError } from '../envelope-error.js';
import { mustReachEveryPartition, recordsFor } from '../kafka-records.js';
import { decode, decodeKey, encode, encodeKey, encodeValue, envelope } from './index.js';

interface Fixture {
  description: string;
  key: string;
  value: Record<string, unknown> & { v: number };
}

const fixturesDir = new URL('./fixtures/', import.meta.url);
const fixtures: [string, Fixture][] = readdirSync(fixturesDir)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => [name, JSON.parse(readFileSync(new URL(name, fixturesDir), 'utf8')) as Fixture]);

function eventOf(fixture: Fixture): ChangeEvent {
  const { v: _v, ...event } = fixture.value;
  return event as unknown as ChangeEvent;
}

function fixture(name: string): Fixture {
  const found = fixtures.find(([file]) => file === `${name}.json`);
  if (!found) throw new Error(`no fixture ${name}`);
  return structuredClone(found[1]);
}

/** The EnvelopeError a call throws (fails the test when it throws nothing or something else). */
function errorOf(call: () => unknown): EnvelopeError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(EnvelopeError);
    return error as EnvelopeError;
  }
  throw new Error('expected an EnvelopeError, nothing was thrown');
}

function valueWith(name: string, change: (value: Record<string, unknown>) => void): string {
  const value = fixture(name).value as Record<string, unknown>;
  change(value);
  return JSON.stringify(value);
}

describe('cdc v1 envelope', () => {
  it('has a fixture for every op', () => {
    const ops = new Set(fixtures.map(([, f]) => f.value.op));
    expect([...ops].sort()).toEqual(['c', 'd', 'r', 't', 'u']);
  });

  describe.each(fixtures)('fixture %s', (_name, f) => {
    it('encodes to exactly the fixture bytes (value and key)', () => {
      const event = eventOf(f);
      expect(encodeValue(event).toString('utf8')).toBe(JSON.stringify(f.value));
      expect(encodeKey(event).toString('utf8')).toBe(f.key);
    });

    it('decodes back to the same event', () => {
      expect(decode(Buffer.from(JSON.stringify(f.value)))).toEqual(eventOf(f));
      expect(decodeKey(Buffer.from(f.key))).toEqual(eventOf(f).key);
    });
  });

  it('writes the version marker v: 1 first, and no headers', () => {
    const [message] = encode(eventOf(fixture('insert')));
    expect(message?.value?.toString()).toMatch(/^\{"v":1,"op":"c",/);
    expect(message?.headers).toEqual({});
  });

  it('keys a row by the canonical JSON of its primary key, whatever the column order', () => {
    const event = eventOf(fixture('insert-composite-key'));
    const reordered: ChangeEvent = { ...event, key: { line: '2', order_id: '1001' } };
    expect(encodeKey(event).toString()).toBe('{"line":"2","order_id":"1001"}');
    expect(encodeKey(reordered)).toEqual(encodeKey(event));
  });

  it('keys a truncate by JSON null and sends one copy to every partition', () => {
    const event = eventOf(fixture('truncate'));
    expect(encodeKey(event).toString()).toBe('null');
    expect(decodeKey('null')).toBeNull();
    expect(mustReachEveryPartition(event)).toBe(true);
    const records = recordsFor('cdc.public.users', event, encode(event), 3);
    expect(records.map((record) => record.partition)).toEqual([0, 1, 2]);
    for (const record of records) {
      expect(record.topic).toBe('cdc.public.users');
      expect(decode(record.value)).toEqual(event);
    }
  });

  it('leaves the partition of a row event to its key', () => {
    const event = eventOf(fixture('update'));
    expect(mustReachEveryPartition(event)).toBe(false);
    const records = recordsFor('cdc.public.users', event, encode(event), 12);
    expect(records).toHaveLength(1);
    expect(records[0]?.partition).toBeUndefined();
    expect(records[0]?.key?.toString()).toBe('{"id":"42"}');
  });

  it('ignores fields it does not know, so v1 can gain fields without breaking readers', () => {
    const value = valueWith('update', (v) => {
      v.origin = 'replica-2';
      (v.source as Record<string, unknown>).xmin = 77;
    });
    expect(decode(value)).toEqual(eventOf(fixture('update')));
  });

  it('accepts the value as Buffer, Uint8Array or string', () => {
    const text = JSON.stringify(fixture('delete').value);
    const expected = eventOf(fixture('delete'));
    expect(decode(text)).toEqual(expected);
    expect(decode(Buffer.from(text))).toEqual(expected);
    expect(decode(new TextEncoder().encode(text))).toEqual(expected);
    expect(envelope.decode(text)).toEqual(expected);
  });

  describe('refuses what is not a v1 value, naming the field', () => {
    it('a newer version, telling the reader to upgrade', () => {
      const error = errorOf(() => decode(valueWith('insert', (v) => (v.v = 2))));
      expect(error.code).toBe('ENVELOPE_VERSION');
      expect(error.message).toBe(
        'cdc v: envelope version number 2 is not understood by this reader, which reads v1; upgrade @cdc-cache/core in this consumer',
      );
    });

    it('a value without a version marker, and a Debezium value with a hint', () => {
      expect(errorOf(() => decode(valueWith('insert', (v) => delete v.v))).message).toMatch(
        /^cdc v: no version marker; this value was not written by a cdc-cache producer/,
      );
      const debeziumValue = JSON.stringify({
        before: null,
        after: { id: 1 },
        source: { connector: 'postgresql' },
        op: 'c',
      });
      expect(errorOf(() => decode(debeziumValue)).message).toMatch(/looks like a Debezium-envelope value/);
    });

    it('bytes that are not JSON or not UTF-8, and tombstones', () => {
      const notJson = errorOf(() => decode('{"v":1,'));
      expect(notJson.code).toBe('ENVELOPE_NOT_JSON');
      expect(notJson.message).toMatch(/^cdc: the message value is not JSON \(/);
      expect(errorOf(() => decode(Buffer.from([0x7b, 0xff, 0x7d]))).message).toMatch(/not UTF-8/);
      expect(errorOf(() => decode('[1,2]')).message).toBe('cdc: expected a JSON object, got an array');
      expect(errorOf(() => decode(null)).message).toMatch(/tombstone/);
    });

    it.each([
      [
        'op',
        (v: Record<string, unknown>) => (v.op = 'x'),
        'cdc op: expected one of "c", "u", "d", "t", "r", got string "x"',
      ],
      [
        'lsn',
        (v: Record<string, unknown>) => ((v.source as Record<string, unknown>).lsn = 27409352),
        'cdc source.lsn: expected pg\'s text LSN such as "0/16B3748", got number 27409352',
      ],
      [
        'lsn after its commit',
        (v: Record<string, unknown>) => ((v.source as Record<string, unknown>).lsn = '0/1A2B5F0'),
        'cdc source.lsn: 0/1A2B5F0 is after the commit 0/1A2B4F0; a change is always written before its commit',
      ],
      [
        'txId',
        (v: Record<string, unknown>) => ((v.source as Record<string, unknown>).txId = null),
        'cdc source.txId: expected the xid of the transaction (0 to 4294967295) for op "c", got null',
      ],
      [
        'commitTime',
        (v: Record<string, unknown>) =>
          ((v.source as Record<string, unknown>).commitTime = '2026-11-20 09:15:02'),
        'cdc source.commitTime: expected ISO 8601 UTC with milliseconds such as "2026-11-20T09:15:02.113Z", got string "2026-11-20 09:15:02"',
      ],
      [
        'seq',
        (v: Record<string, unknown>) => ((v.source as Record<string, unknown>).seq = -1),
        'cdc source.seq: expected the 0-based position of the change in its transaction, got number -1',
      ],
      [
        'source',
        (v: Record<string, unknown>) => delete v.source,
        'cdc source: expected an object, got nothing (the field is missing)',
      ],
      [
        'key',
        (v: Record<string, unknown>) => (v.key = {}),
        'cdc key: the key has no columns; a row event is keyed by its primary key',
      ],
      [
        'before of an insert',
        (v: Record<string, unknown>) => (v.before = { id: '42' }),
        'cdc before: expected null for op "c", got an object',
      ],
      [
        'after of an insert',
        (v: Record<string, unknown>) => (v.after = null),
        'cdc after: expected a row image object for op "c", got null',
      ],
      [
        'unchangedToast of an insert',
        (v: Record<string, unknown>) => (v.unchangedToast = ['bio']),
        'cdc unchangedToast: only updates have unchanged TOAST columns, got 1 for op "c"',
      ],
    ])('%s', (_what, change, message) => {
      const error = errorOf(() => decode(valueWith('insert', change)));
      expect(error.code).toBe('ENVELOPE_INVALID');
      expect(error.message).toBe(message);
      expect(error.message).not.toContain('\n');
    });

    it('a truncate with a key, a delete without before, an unchanged TOAST column in after', () => {
      expect(errorOf(() => decode(valueWith('truncate', (v) => (v.key = { id: '1' })))).message).toBe(
        'cdc key: expected null for op "t", got an object',
      );
      expect(errorOf(() => decode(valueWith('delete', (v) => (v.before = null)))).message).toBe(
        'cdc before: expected a row image object for op "d", got null',
      );
      const toastInAfter = valueWith(
        'update-unchanged-toast',
        (v) => ((v.after as Record<string, unknown>).bio = null),
      );
      expect(errorOf(() => decode(toastInAfter)).message).toBe(
        'cdc unchangedToast.0: column "bio" is in after too; an unchanged TOAST column is left out of after',
      );
    });

    it('a snapshot read may have no txId; a change must', () => {
      expect(decode(JSON.stringify(fixture('snapshot-read').value)).source.txId).toBeNull();
    });
  });

  describe('refuses to encode an event that breaks the contract, before it reaches Kafka', () => {
    it('a key column without a value', () => {
      const event = eventOf(fixture('insert'));
      const broken: ChangeEvent = { ...event, key: { id: undefined } };
      expect(errorOf(() => encode(broken)).message).toBe('cdc key.id: key column has no value');
    });

    it('a column of after without a value (absent and listed is the way to say "unchanged TOAST")', () => {
      const event = eventOf(fixture('update'));
      const broken: ChangeEvent = { ...event, after: { ...event.after, bio: undefined } };
      expect(errorOf(() => encode(broken)).message).toMatch(/^cdc after\.bio: column has no value/);
    });
  });
});
