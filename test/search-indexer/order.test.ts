import { type ChangeEvent, compareLsn } from '@cdc-cache/core';
import type { SearchSink } from '@cdc-cache/search-sink';
import { freshSlate, type Slate } from '@cdc-cache/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { change, createTestSink, es, generationsOf, visibleRows } from './search-harness.js';

// Unit level against the real Elasticsearch: events go straight into the sink, in orders Kafka
// never produces, and what is left must be exactly the newest version of every row.

let slate: Slate;
let sink: SearchSink;
let pool: pg.Pool;
let index: string;
const counts = new Map<string, number>();

/** A small deterministic random generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], next: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/**
 * A history of 80 rows over 200 transactions: inserts, updates, several changes of one row in
 * one transaction, deletes, inserts again after a delete, and snapshot reads interleaved.
 */
function history(table: string, next: () => number): ChangeEvent[] {
  const events: ChangeEvent[] = [];
  const alive = new Set<number>();
  let position = 0x1000_0000n;
  for (let tx = 0; tx < 200; tx++) {
    const changes = 1 + Math.floor(next() * 4);
    const firstLsn = position;
    const planned: { id: number; op: 'c' | 'u' | 'd' }[] = [];
    for (let seq = 0; seq < changes; seq++) {
      // Often the same row again in the same transaction.
      const id = seq > 0 && next() < 0.5 ? planned[seq - 1]!.id : 1 + Math.floor(next() * 80);
      const op = !alive.has(id) ? 'c' : next() < 0.2 ? 'd' : 'u';
      if (op === 'd') alive.delete(id);
      else alive.add(id);
      planned.push({ id, op });
    }
    const commitLsn = firstLsn + BigInt(changes * 0x100);
    planned.forEach(({ id, op }, seq) => {
      const at = { commitLsn, lsn: firstLsn + BigInt(seq * 0x100), seq };
      const key = { id: String(id) };
      events.push(
        change(
          table,
          op,
          at,
          key,
          op === 'd' ? null : { id: String(id), name: `row ${id} tx ${tx}.${seq}`, n: String(tx) },
        ),
      );
    });
    position = commitLsn + 0x100n;
    // Now and then a snapshot read of a live row, at a watermark of its own.
    if (next() < 0.1 && alive.size > 0) {
      const id = [...alive][Math.floor(next() * alive.size)]!;
      const last = events.filter((event) => event.key?.id === String(id)).at(-1)!;
      const at = { commitLsn: position, lsn: position, seq: 0 };
      events.push(change(table, 'r', at, { id: String(id) }, last.after));
      position += 0x100n;
    }
  }
  return events;
}

/** What the index must show: the newest change of every row, by (commitLsn, lsn). */
function expected(events: ChangeEvent[]): Map<string, Record<string, unknown>> {
  const newest = new Map<string, ChangeEvent>();
  for (const event of events) {
    const id = JSON.stringify(event.key);
    const other = newest.get(id);
    if (
      !other ||
      (compareLsn(event.source.commitLsn, other.source.commitLsn) ||
        compareLsn(event.source.lsn, other.source.lsn)) > 0
    )
      newest.set(id, event);
  }
  const rows = new Map<string, Record<string, unknown>>();
  for (const [id, event] of newest) {
    if (event.op !== 'd') rows.set(id, { name: event.after!.name, n: event.after!.n });
  }
  return rows;
}

beforeAll(async () => {
  slate = await freshSlate('search_order');
  index = `${slate.indexPrefix}items`;
  ({ sink, pool } = createTestSink(
    slate,
    [
      { table: 'public.items', index, fields: ['name', 'n'] },
      { table: 'public.gone', index: `${slate.indexPrefix}gone`, fields: ['name'] },
    ],
    {
      bulkActions: 37,
      metrics: {
        documents: { inc: ({ result }, value = 1) => counts.set(result, (counts.get(result) ?? 0) + value) },
        bulkSeconds: { observe: () => undefined },
      },
    },
  ));
  await sink.start();
});

afterAll(async () => {
  await sink?.close();
  await pool?.end();
  await slate?.dispose();
});

describe('order', () => {
  it('events delivered shuffled, duplicated and replayed leave exactly the newest version of every row', async () => {
    const next = random(20261125);
    const events = history('items', next);
    const want = expected(events);
    expect(want.size).toBeGreaterThan(20);
    expect(events.some((event) => event.op === 'd')).toBe(true);

    // Shuffled, with a third of the events delivered twice, in batches of random size, two
    // "partitions" at once; then the whole history replayed in order, as after a crash.
    const shuffled = shuffle([...events, ...events.filter(() => next() < 0.33)], next);
    const batches: ChangeEvent[][] = [];
    for (let at = 0; at < shuffled.length; ) {
      const size = 1 + Math.floor(next() * 40);
      batches.push(shuffled.slice(at, at + size));
      at += size;
    }
    const lanes = [batches.filter((_, i) => i % 2 === 0), batches.filter((_, i) => i % 2 === 1)];
    await Promise.all(
      lanes.map(async (lane) => {
        for (const batch of lane) {
          const outcomes = await sink.apply(batch);
          expect(outcomes.every((outcome) => outcome.status === 'applied')).toBe(true);
        }
      }),
    );
    expect(await visibleRows(index)).toEqual(want);

    for (let at = 0; at < events.length; at += 50) await sink.apply(events.slice(at, at + 50));
    expect(await visibleRows(index)).toEqual(want);
    // Stale writes were expected, and counted as such, not as failures.
    expect(counts.get('skipped_stale') ?? 0).toBeGreaterThan(0);
    expect(counts.get('failed') ?? 0).toBe(0);
  });

  it('a deleted row stays deleted when its older insert arrives later', async () => {
    const key = { id: 'late' };
    const insert = change('items', 'c', { commitLsn: 0x2000_0100n, lsn: 0x2000_0000n, seq: 0 }, key, {
      id: 'late',
      name: 'old',
      n: '1',
    });
    const remove = change('items', 'd', { commitLsn: 0x2000_0300n, lsn: 0x2000_0200n, seq: 0 }, key, null);
    await sink.apply([remove]);
    await sink.apply([insert]);
    await sink.apply([insert, remove, insert]);
    expect((await visibleRows(index)).has('{"id":"late"}')).toBe(false);
    // A newer insert of the same key does come back.
    await sink.apply([
      change('items', 'c', { commitLsn: 0x2000_0500n, lsn: 0x2000_0400n, seq: 0 }, key, {
        id: 'late',
        name: 'new',
        n: '2',
      }),
    ]);
    expect((await visibleRows(index)).get('{"id":"late"}')).toEqual({ name: 'new', n: '2' });
  });

  it('a truncate empties the index, and changes from before it stay out when they arrive later', async () => {
    const gone = `${slate.indexPrefix}gone`;
    const at = (n: number) => ({
      commitLsn: 0x3000_0000n + BigInt(n * 0x100),
      lsn: 0x3000_0000n + BigInt(n * 0x100 - 8),
      seq: 0,
    });
    const before = [1, 2, 3].map((n) =>
      change('gone', 'c', at(n), { id: String(n) }, { id: String(n), name: `v${n}` }),
    );
    const lateBefore = change(
      'gone',
      'u',
      at(4),
      { id: '1' },
      { id: '1', name: 'late, from before the truncate' },
    );
    const truncate = change('gone', 't', at(5), null, null);
    const after = change('gone', 'c', at(6), { id: '9' }, { id: '9', name: 'after' });
    const [first] = await generationsOf(gone);
    await sink.apply(before);
    expect((await visibleRows(gone)).size).toBe(3);
    // The truncate reaches every partition: here two copies, in two batches running at once.
    await Promise.all([sink.apply([truncate, after]), sink.apply([truncate])]);
    await sink.apply([lateBefore, truncate]);
    expect(await visibleRows(gone)).toEqual(new Map([['{"id":"9"}', { name: 'after' }]]));
    const generations = await generationsOf(gone);
    expect(generations).toHaveLength(1);
    expect(generations[0]).not.toBe(first);
    // The old generation is gone, not merely hidden.
    const all = await es<{ index: string }[]>('GET', `/_cat/indices/${gone}--*?format=json&h=index`);
    expect(all.map((entry) => entry.index)).toEqual(generations);
  });

  it('refuses to take over an index it did not create', async () => {
    const taken = `${slate.indexPrefix}taken`;
    await es('PUT', `/${taken}`, {});
    const other = createTestSink(slate, [{ table: 'public.items', index: taken, fields: ['name'] }]);
    await expect(other.sink.start()).rejects.toThrow(
      /already exists and was not created by the search-indexer/,
    );
    await other.sink.close();
    await other.pool.end();
  });
});
