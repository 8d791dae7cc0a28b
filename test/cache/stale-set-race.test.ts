import { type CacheStore, fenceVersion, type StoreName } from '@cdc-cache/cache-stores';
import { LeaseGuardedReader, RowLoader } from '@cdc-cache/client';
import { compileKeyTemplate } from '@cdc-cache/core';
import { freshSlate, type Slate } from '@cdc-cache/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentKey, rowDocument, testStores } from './cache-harness.js';

const ROUNDS = 120;
let slate: Slate;
let pool: pg.Pool;
let stores: Record<StoreName, CacheStore>;

beforeAll(async () => {
  slate = await freshSlate('cache_stale_set');
  await slate.db.query('CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL)');
  await slate.db.query(`INSERT INTO users SELECT g, 'old' FROM generate_series(1, ${2 * ROUNDS}) g`);
  pool = new pg.Pool({ connectionString: slate.pgUrl, max: 12 });
  stores = testStores(slate);
});

afterAll(async () => {
  await pool?.end();
  await Promise.all(Object.values(stores ?? {}).map((store) => store.close()));
  await slate?.dispose();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(['redis', 'memcached'] as const)(
  'stale-set race in %s (real PostgreSQL, real concurrency)',
  (name) => {
    it('reader misses and reads the row, a writer commits and the invalidation runs, then the reader stores: the old value is not left in the cache', async () => {
      const store = stores[name];
      const template = compileKeyTemplate('user:{id}', {
        store: name,
        keyPrefix: store.keyPrefix,
        maxKeyBytes: store.maxKeyBytes,
      });
      const reader = new LeaseGuardedReader({ store, waitMs: 2000 });
      const loader = new RowLoader(pool, 'public.users', ['id']);
      const offset = name === 'redis' ? 0 : ROUNDS;
      const outcomes = { filled: 0, lost: 0 };

      await Promise.all(
        Array.from({ length: ROUNDS }, async (_, round) => {
          const id = String(offset + round + 1);
          const ref = await currentKey(store, 'public.users', 'user:{id}', { id });
          let invalidated!: () => void;
          const invalidation = new Promise<void>((resolve) => {
            invalidated = resolve;
          });
          let readDone!: () => void;
          const rowRead = new Promise<void>((resolve) => {
            readDone = resolve;
          });
          // Most rounds force the classic interleaving; the rest race freely.
          const forced = round % 4 !== 3;
          const read = reader.read({
            table: 'public.users',
            template,
            params: { id },
            load: async () => {
              const document = await loader.load({ id });
              readDone();
              if (forced) await invalidation;
              else await sleep(Math.random() * 5);
              return document;
            },
          });
          const write = (async () => {
            if (forced) await rowRead;
            else await sleep(Math.random() * 5);
            const client = await pool.connect();
            try {
              await client.query(`UPDATE users SET name = 'new' WHERE id = $1`, [id]);
              const { rows } = await client.query<{ lsn: string }>(
                'SELECT pg_current_wal_lsn()::text AS lsn',
              );
              const version = fenceVersion(rows[0]!.lsn, rows[0]!.lsn);
              if (round % 2 === 0) await store.evict({ ...ref, version });
              else await store.refresh({ ...ref, version, value: rowDocument({ id, name: 'new' }) });
            } finally {
              client.release();
              invalidated();
            }
          })();
          const [result] = await Promise.all([read, write]);
          if (result.source === 'filled') outcomes.filled++;
          else outcomes.lost++;
          const value = await store.get(ref);
          expect([null, rowDocument({ id, name: 'new' })]).toContain(value);
        }),
      );
      // The forced rounds must all have lost their lease.
      expect(outcomes.lost).toBeGreaterThanOrEqual(Math.floor((ROUNDS * 3) / 4));
    });
  },
);
