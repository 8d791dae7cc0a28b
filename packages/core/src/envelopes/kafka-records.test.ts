import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../change-event.js';
import * as cdcV1 from './cdc-v1/index.js';
import * as debezium from './debezium/index.js';
import { envelopeNamed } from './index.js';
import { createEventEncoder, mustReachEveryPartition, recordsFor } from './kafka-records.js';

function event(op: ChangeEvent['op'], table = 'users'): ChangeEvent {
  return {
    op,
    source: {
      db: 'shop',
      schema: 'public',
      table,
      lsn: '0/1A2C600',
      commitLsn: '0/1A2C6A0',
      txId: 1006,
      commitTime: '2026-11-20T09:20:00.000Z',
      seq: 0,
    },
    key: op === 't' ? null : { id: '42' },
    before: op === 'd' ? { id: '42' } : null,
    after: op === 'd' || op === 't' ? null : { id: '42', name: 'Ada' },
    unchangedToast: [],
  };
}

describe('partitioning', () => {
  it('only a truncate must reach every partition', () => {
    expect((['c', 'u', 'd', 'r'] as const).map((op) => mustReachEveryPartition({ op }))).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(mustReachEveryPartition({ op: 't' })).toBe(true);
  });

  it('copies every message of a truncate to each partition, in partition order', () => {
    const truncate = event('t');
    const records = recordsFor('cdc.public.users', truncate, cdcV1.encode(truncate), 4);
    expect(records.map((record) => record.partition)).toEqual([0, 1, 2, 3]);
    expect(new Set(records.map((record) => record.value?.toString())).size).toBe(1);
  });

  it('refuses a partition count that cannot be right', () => {
    const truncate = event('t');
    expect(() => recordsFor('cdc.public.users', truncate, cdcV1.encode(truncate), 0)).toThrow(RangeError);
  });
});

describe('createEventEncoder', () => {
  it('gives the replicator topics and records in the configured envelope', () => {
    const encoder = createEventEncoder({
      envelope: envelopeNamed('cdc', { topicPrefix: 'cdc' }),
      topicPrefix: 'cdc',
    });
    expect(encoder.topic(event('c', 'order-items'))).toBe('cdc.public.order-2Ditems');
    const [record] = encoder.records(event('c'), 6);
    expect(record?.topic).toBe('cdc.public.users');
    expect(record?.key?.toString()).toBe('{"id":"42"}');
    expect(cdcV1.decode(record?.value ?? null)).toEqual(event('c'));
    expect(encoder.records(event('t'), 6)).toHaveLength(6);
  });

  it('writes Debezium messages, tombstones included, with source.name from the topic prefix', () => {
    const encoder = createEventEncoder({
      envelope: envelopeNamed('debezium', { topicPrefix: 'shop' }),
      topicPrefix: 'shop',
    });
    const records = encoder.records(event('d'), 6);
    expect(records.map((record) => record.value === null)).toEqual([false, true]);
    expect(JSON.parse(records[0]?.value?.toString() ?? '').source.name).toBe('shop');
    expect(debezium.decode(records[0]?.value ?? null, records[0]?.key)).toEqual(event('d'));
    // A Debezium truncate has a null key, and still goes to every partition.
    const truncates = encoder.records(event('t'), 3);
    expect(truncates.map((record) => [record.partition, record.key])).toEqual([
      [0, null],
      [1, null],
      [2, null],
    ]);
  });
});
