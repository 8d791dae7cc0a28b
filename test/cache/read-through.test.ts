import type { CacheStore, StoreName } from '@cdc-cache/cache-stores';
import { LeaseGuardedReader, RowLoader } from '@cdc-cache/client';
import { compileKeyTemplate } from '@cdc-cache/core';
import { freshSlate, type ServiceProcess, type Slate, startService, writeConfig } from '@cdc-cache/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, stopWorker, waitStreaming } from '../cdc-worker/worker-harness.js';
import {
  cacheConfig,
  metricValue,
  servicePort,
  startInvalidator,
  stopService,
  testStores,
  waitFor,
} from './cache-harness.js';

const USERS = 'public.users';
let slate: Slate;
let worker: ServiceProcess | undefined;
let invalidator: ServiceProcess | undefined;
let readApi: ServiceProcess | undefined;
let stores: Record<StoreName, CacheStore>;
let apiPort: number;
let pool: pg.Pool;

beforeAll(async () => {
  slate = await freshSlate('cache_read_through');
  await slate.db.query(
    'CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL)',
  );
  await slate.db.query('ALTER TABLE users REPLICA IDENTITY FULL');
  await slate.db.query(
    `INSERT INTO users SELECT g, 'u' || g || '@example.com', 'before truncate' FROM generate_series(1, 60) g`,
  );
  const config = cacheConfig(
    slate,
    [USERS],
    [
      {
        table: USERS,
        keys: [
          { key: 'user:{id}', store: 'redis', action: 'evict' },
          { key: 'user:email:{email}', store: 'memcached', action: 'evict' },
        ],
      },
    ],
    {
      readApi: {
        routes: [
          { path: '/v1/users/{id}', table: USERS, key: 'user:{id}', store: 'redis' },
          { path: '/v1/users-by-email/{email}', table: USERS, key: 'user:email:{email}', store: 'memcached' },
        ],
      },
    },
  );
  stores = testStores(slate);
  pool = new pg.Pool({ connectionString: slate.pgUrl, max: 8 });
  worker = await startWorker(config);
  await waitStreaming(worker);
  invalidator = await startInvalidator(config);
  readApi = startService('read-api', await writeConfig(config));
  apiPort = await servicePort(readApi);
}, 120_000);

afterAll(async () => {
  await stopService(readApi);
  await stopService(invalidator);
  await stopWorker(worker);
  await pool?.end();
  await Promise.all(Object.values(stores ?? {}).map((store) => store.close()));
  await slate?.dispose();
});

const get = (path: string) => fetch(`http://127.0.0.1:${apiPort}${path}`);

describe('read-api: lease-guarded read-through', () => {
  it('serves GET /v1/<table>/<key>: a miss reads PostgreSQL and fills, the next read is a hit; unknown rows are 404', async () => {
    const first = await get('/v1/users/1');
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(await first.json()).toEqual({ id: '1', email: 'u1@example.com', name: 'before truncate' });
    const second = await get('/v1/users/1');
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect((await get('/v1/users-by-email/u1%40example.com')).status).toBe(200);
    expect((await get('/v1/users/999999')).status).toBe(404);
    expect((await get('/v1/users/not-a-number')).status).toBe(404);
    expect((await get('/v1/nothing/1')).status).toBe(404);
  });

  it.each([
    ['redis', '/v1/users/7'],
    ['memcached', '/v1/users-by-email/u7%40example.com'],
  ])(
    'herd: 500 concurrent reads of one missing key in %s cause at most a handful of PostgreSQL reads',
    async (_store, path) => {
      const table = async () =>
        (
          await slate.db.query<{ scans: string }>(
            `SELECT (coalesce(idx_scan, 0) + coalesce(seq_scan, 0))::text AS scans FROM pg_stat_user_tables WHERE relname = 'users'`,
          )
        ).rows[0]!.scans;
      const readsBefore = await metricValue(apiPort, 'cdc_cache_read_api_database_reads_total');
      const scansBefore = Number(await table());
      const responses = await Promise.all(Array.from({ length: 500 }, () => get(path)));
      const bodies = await Promise.all(responses.map((response) => response.text()));
      expect(responses.every((response) => response.status === 200)).toBe(true);
      expect(new Set(bodies).size).toBe(1);
      const reads = (await metricValue(apiPort, 'cdc_cache_read_api_database_reads_total')) - readsBefore;
      expect(reads).toBeGreaterThanOrEqual(1);
      expect(reads).toBeLessThanOrEqual(3);
      // PostgreSQL's own count (its statistics are flushed about once a second).
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(Number(await table()) - scansBefore).toBeLessThanOrEqual(3);
    },
  );

  it.each(['redis', 'memcached'] as const)(
    'truncate with concurrent readers (%s): no read that starts after the truncate is applied returns a row from before it',
    async (name) => {
      const store = stores[name];
      const template = compileKeyTemplate(name === 'redis' ? 'user:{id}' : 'user:email:{email}', {
        store: name,
        keyPrefix: store.keyPrefix,
        maxKeyBytes: store.maxKeyBytes,
      });
      const column = name === 'redis' ? 'id' : 'email';
      const loader = new RowLoader(pool, USERS, [column]);
      const readers = Array.from({ length: 4 }, () => new LeaseGuardedReader({ store, waitMs: 200 }));
      const ids = Array.from({ length: 20 }, (_, i) => i + 21);
      const params = (id: number) =>
        name === 'redis' ? { id: String(id) } : { email: `u${id}@example.com` };
      // Fill the cache with the rows as they are.
      for (const id of ids)
        await readers[0]!.read({
          table: USERS,
          template,
          params: params(id),
          load: () => loader.load(params(id)),
        });
      const route = template.render(params(ids[0]!));
      if (!route.ok) throw new Error(route.reason);
      const before = (await store.generation(USERS, route.key)).generation;

      let stop = false;
      let appliedAt = Number.POSITIVE_INFINITY;
      const stale: string[] = [];
      let reads = 0;
      const loops = readers.map(async (reader, r) => {
        for (let i = r; !stop; i++) {
          const id = ids[i % ids.length]!;
          const startedAt = Date.now();
          const result = await reader.read({
            table: USERS,
            template,
            params: params(id),
            load: () => loader.load(params(id)),
          });
          reads++;
          if (startedAt > appliedAt && result.value?.includes('before truncate'))
            stale.push(`${id}: ${result.source}`);
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await slate.db.query('BEGIN');
      await slate.db.query('TRUNCATE users');
      await slate.db.query(
        `INSERT INTO users SELECT g, 'u' || g || '@example.com', 'after truncate ${name}' FROM generate_series(1, 60) g`,
      );
      await slate.db.query('COMMIT');
      await waitFor(
        'generation bumped',
        () => store.generation(USERS, route.key),
        (state) => state.generation > before,
      );
      appliedAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      stop = true;
      await Promise.all(loops);
      expect(reads).toBeGreaterThan(100);
      expect(stale).toEqual([]);
      const after = await readers[0]!.read({
        table: USERS,
        template,
        params: params(21),
        load: () => loader.load(params(21)),
      });
      expect(after.value).toContain(`after truncate ${name}`);
    },
  );
});
