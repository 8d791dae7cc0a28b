import { freshSlate, type Slate, stackAddresses } from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemcachedStore } from './memcached/memcached-store.js';
import { keyRef, storesFor } from './test-stores.js';
import type { CacheStore, StoreName } from './types.js';
import { type FenceVersion, fenceVersion, NO_VERSION } from './version.js';

let slate: Slate;
let stores: Record<StoreName, CacheStore>;
/** More clients of the same servers, each on its own connections: several invalidators racing. */
let others: Record<StoreName, CacheStore>[];

beforeAll(async () => {
  slate = await freshSlate('cache stores');
  stores = storesFor(slate, { fenceTtlSeconds: 600 });
  others = Array.from({ length: 3 }, () => storesFor(slate, { fenceTtlSeconds: 600 }));
});

afterAll(async () => {
  await Promise.all(
    [stores, ...others].flatMap((set) => Object.values(set ?? {})).map((store) => store.close()),
  );
  await slate?.dispose();
});

/** The i-th change of a row: versions increase with i; some share a transaction (same commitLsn). */
function versionOf(i: number): FenceVersion {
  const commit = 0x1000 + Math.floor(i / 3) * 0x100;
  return fenceVersion(`0/${commit.toString(16)}`, `0/${(commit - 0x80 + (i % 3)).toString(16)}`);
}

interface Change {
  i: number;
  version: FenceVersion;
  action: 'refresh' | 'evict';
  value: string;
}

function changesFor(row: string, count: number, lastAction?: 'refresh' | 'evict'): Change[] {
  return Array.from({ length: count }, (_, i) => ({
    i,
    version: versionOf(i),
    action: i === count - 1 && lastAction ? lastAction : Math.random() < 0.3 ? 'evict' : 'refresh',
    value: JSON.stringify({ id: row, n: i, text: `é ${'x'.repeat(i * 7)}` }),
  }));
}

function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function apply(store: CacheStore, text: string, change: Change) {
  const ref = keyRef(store, text);
  return change.action === 'refresh'
    ? store.refresh({ ...ref, version: change.version, value: change.value })
    : store.evict({ ...ref, version: change.version });
}

describe.each(['redis', 'memcached'] as const)('%s fences', (name) => {
  const store = () => stores[name];

  it('an older event never overwrites a newer value, in every order (shuffled, replayed, duplicated, concurrent)', async () => {
    const rows = Array.from({ length: 80 }, (_, i) => `fence:${i}`);
    await Promise.all(
      rows.map(async (row, r) => {
        const changes = changesFor(row, 12, r % 2 === 0 ? 'refresh' : 'evict');
        // Every change twice (duplicates and replays), shuffled; half of them raced concurrently.
        const order = shuffle([...changes, ...changes, ...shuffle(changes).slice(0, 4)]);
        const half = Math.floor(order.length / 2);
        for (const change of order.slice(0, half)) await apply(store(), row, change);
        await Promise.all(
          order.slice(half).map((change, i) => apply(others[i % others.length]![name], row, change)),
        );
        const last = changes.at(-1)!;
        const state = await store().inspect(keyRef(store(), row));
        expect(state.version).toBe(last.version);
        expect(state.value).toBe(last.action === 'refresh' ? last.value : null);
        expect(await store().get(keyRef(store(), row))).toBe(state.value);
      }),
    );
  });

  it('applying a change reports applied once, then stale for it and every older one', async () => {
    const row = 'outcome:1';
    const [older, newer] = changesFor(row, 2, 'refresh');
    expect(await apply(store(), row, newer!)).toBe('applied');
    expect(await apply(store(), row, older!)).toBe('stale');
    if (name === 'redis') expect(await apply(store(), row, newer!)).toBe('stale');
    expect(await store().get(keyRef(store(), row))).toBe(newer!.value);
  });

  it('a delete leaves a tombstone: a late older refresh cannot bring the value back', async () => {
    const row = 'tombstone:1';
    const ref = keyRef(store(), row);
    await store().refresh({ ...ref, version: versionOf(5), value: '"v5"' });
    expect(await store().evict({ ...ref, version: versionOf(6) })).toBe('applied');
    expect(await store().refresh({ ...ref, version: versionOf(4), value: '"v4"' })).toBe('stale');
    expect(await store().refresh({ ...ref, version: versionOf(5), value: '"v5"' })).toBe('stale');
    expect(await store().get(ref)).toBeNull();
    expect((await store().inspect(ref)).version).toBe(versionOf(6));
    expect(await store().refresh({ ...ref, version: versionOf(7), value: '"v7"' })).toBe('applied');
    expect(await store().get(ref)).toBe('"v7"');
  });

  it('changes of one row in one transaction are ordered by lsn (same commitLsn)', async () => {
    const ref = keyRef(store(), 'same-tx:1');
    const first = fenceVersion('0/5000', '0/4F00');
    const second = fenceVersion('0/5000', '0/4F40');
    await store().refresh({ ...ref, version: second, value: '"second"' });
    expect(await store().refresh({ ...ref, version: first, value: '"first"' })).toBe('stale');
    expect(await store().get(ref)).toBe('"second"');
    // A snapshot read at a later position but an earlier commit loses to the later commit.
    expect(
      await store().refresh({ ...ref, version: fenceVersion('0/4FFF', '0/4FFF'), value: '"snapshot"' }),
    ).toBe('stale');
  });

  it('the served value is exactly the row document (the version is kept beside it)', async () => {
    const ref = keyRef(store(), 'clean:1');
    const document = '{"bio":"line\\r\\nbreak","id":"1","name":"Ada"}';
    await store().refresh({ ...ref, version: versionOf(1), value: document });
    expect(await store().get(ref)).toBe(document);
  });

  it('a truncate bumps the generation once per version, older truncates and row changes before it are stale', async () => {
    const table = `public.t_${name}`;
    const route = keyRef(store(), 'trunc:1').route;
    expect(await store().generation(table, route)).toEqual({ generation: 0, truncatedAt: NO_VERSION });
    const truncate = fenceVersion('0/9000', '0/8F00');
    // One copy per partition, concurrently.
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => store().truncate(table, truncate)));
    expect(outcomes.filter((outcome) => outcome === 'applied')).toHaveLength(1);
    expect(await store().generation(table, route)).toEqual({ generation: 1, truncatedAt: truncate });
    expect(await store().truncate(table, fenceVersion('0/8000', '0/7F00'))).toBe('stale');
    expect(await store().truncate(table, fenceVersion('0/A000', '0/9F00'))).toBe('applied');
    expect((await store().generation(table, route)).generation).toBe(2);
  });

  it('a lease is given to one reader; the others are told to wait; a hit needs no lease', async () => {
    const ref = keyRef(store(), 'lease:1');
    const results = await Promise.all(Array.from({ length: 50 }, () => store().lease(ref, { ttlMs: 3000 })));
    const granted = results.filter((result) => result.kind === 'granted');
    expect(granted).toHaveLength(1);
    expect(results.filter((result) => result.kind === 'held')).toHaveLength(49);
    const lease = granted[0]!.kind === 'granted' ? granted[0]!.lease : null;
    expect(await store().fill(lease!, '"filled"', { ttlSeconds: 60 })).toBe('stored');
    expect(await store().lease(ref, { ttlMs: 3000 })).toEqual({ kind: 'hit', value: '"filled"' });
  });

  it('an invalidation between lease and fill takes the lease away: the reader stores nothing', async () => {
    for (const action of ['evict', 'refresh'] as const) {
      const ref = keyRef(store(), `lease-lost:${action}`);
      await store().evict({ ...ref, version: versionOf(1) });
      const result = await store().lease(ref, { ttlMs: 3000 });
      expect(result.kind).toBe('granted');
      if (result.kind !== 'granted') return;
      if (action === 'evict') await store().evict({ ...ref, version: versionOf(2) });
      else await store().refresh({ ...ref, version: versionOf(2), value: '"new"' });
      expect(await store().fill(result.lease, '"old"', { ttlSeconds: 60 })).toBe('lost');
      expect(await store().get(ref)).toBe(action === 'evict' ? null : '"new"');
    }
  });

  it('a filled value keeps the tombstone version: older changes stay stale, newer ones apply', async () => {
    const ref = keyRef(store(), 'fill-version:1');
    await store().evict({ ...ref, version: versionOf(3) });
    const result = await store().lease(ref, { ttlMs: 3000 });
    if (result.kind !== 'granted') throw new Error('expected a lease');
    expect(await store().fill(result.lease, '"read after v3"', { ttlSeconds: 60 })).toBe('stored');
    expect(await store().refresh({ ...ref, version: versionOf(2), value: '"v2"' })).toBe('stale');
    expect(await store().get(ref)).toBe('"read after v3"');
    expect(await store().evict({ ...ref, version: versionOf(4) })).toBe('applied');
    expect(await store().get(ref)).toBeNull();
  });

  it('stale-set race, many times with real concurrency: the old value is never left in the cache', async () => {
    // The database is a version counter here; test/cache runs the same race against PostgreSQL.
    const rounds = 150;
    await Promise.all(
      Array.from({ length: rounds }, async (_, round) => {
        const ref = keyRef(store(), `race:${round}`);
        let committed = 1;
        const pause = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
        const reader = (async () => {
          await pause();
          const lease = await store().lease(ref, { ttlMs: 5000 });
          if (lease.kind !== 'granted') return;
          const seen = committed; // reads the row
          await pause();
          await store().fill(lease.lease, JSON.stringify(seen), { ttlSeconds: 60 });
        })();
        const writer = (async () => {
          await pause();
          committed = 2; // commits, then the invalidation runs
          if (round % 2 === 0) await store().evict({ ...ref, version: versionOf(2) });
          else await store().refresh({ ...ref, version: versionOf(2), value: '2' });
        })();
        await Promise.all([reader, writer]);
        const value = await store().get(ref);
        expect([null, '2']).toContain(value);
      }),
    );
  });
});

describe('memcached fence protocol under forced interleavings', () => {
  it('a writer paused between its fence and its key write cannot overwrite a newer change that ran meanwhile', async () => {
    for (const [older, newer] of [
      ['refresh', 'refresh'],
      ['refresh', 'evict'],
      ['evict', 'refresh'],
    ] as const) {
      let release!: () => void;
      let paused!: () => void;
      const pausedAt = new Promise<void>((resolve) => {
        paused = resolve;
      });
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const slow = new MemcachedStore({
        servers: stackAddresses.memcached.servers,
        keyPrefix: slate.keyPrefix,
        beforeKeyWrite: async (_key, version) => {
          if (version !== versionOf(1)) return;
          paused();
          await gate;
        },
      });
      try {
        const ref = keyRef(slow, `interleave:${older}-${newer}`);
        await slow.refresh({ ...ref, version: versionOf(0), value: '"v0"' });
        const first =
          older === 'refresh'
            ? slow.refresh({ ...ref, version: versionOf(1), value: '"v1"' })
            : slow.evict({ ...ref, version: versionOf(1) });
        await pausedAt; // v1 has set the fence and read the key's CAS
        const fast = stores.memcached;
        if (newer === 'refresh') await fast.refresh({ ...ref, version: versionOf(2), value: '"v2"' });
        else await fast.evict({ ...ref, version: versionOf(2) });
        release();
        expect(await first).toBe('stale');
        expect(await fast.get(ref)).toBe(newer === 'refresh' ? '"v2"' : null);
        expect((await fast.inspect(ref)).version).toBe(versionOf(2));
      } finally {
        await slow.close();
      }
    }
  });
});
