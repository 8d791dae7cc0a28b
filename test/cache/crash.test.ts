import type { CacheStore, StoreName } from '@cdc-cache/cache-stores';
import { freshSlate, type ServiceProcess, type Slate } from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, stopWorker, waitStreaming } from '../cdc-worker/worker-harness.js';
import {
  cacheConfig,
  cached,
  metricValue,
  rowDocument,
  servicePort,
  startInvalidator,
  stopService,
  testStores,
  waitFor,
} from './cache-harness.js';

const ROWS = 200;
const TRANSACTIONS = 1500;
const KILLS = 2;

let slate: Slate;
let worker: ServiceProcess | undefined;
let invalidator: ServiceProcess | undefined;
/** A second invalidator in the same consumer group, running throughout. */
let peer: ServiceProcess | undefined;
let stores: Record<StoreName, CacheStore>;

beforeAll(async () => {
  slate = await freshSlate('cache_crash');
  await slate.db.query('CREATE TABLE items (id int PRIMARY KEY, version int NOT NULL)');
  await slate.db.query(`INSERT INTO items SELECT g, 0 FROM generate_series(1, ${ROWS}) g`);
  stores = testStores(slate);
});

afterAll(async () => {
  await stopService(invalidator);
  await stopService(peer);
  await stopWorker(worker);
  await Promise.all(Object.values(stores ?? {}).map((store) => store.close()));
  await slate?.dispose();
});

describe('cache-invalidators under SIGKILL', () => {
  it('two invalidators share the partitions; kill -9 of one mid-stream loses no invalidation: every key ends at its row', async () => {
    const config = cacheConfig(
      slate,
      ['public.items'],
      [
        {
          table: 'public.items',
          keys: [
            { key: 'item:{id}', store: 'redis', action: 'refresh' },
            { key: 'item:{id}', store: 'memcached', action: 'refresh' },
            { key: 'item-view:{id}', store: 'redis', action: 'evict' },
          ],
        },
      ],
      { invalidator: { sessionTimeoutMs: 6000 } },
    );
    worker = await startWorker(config);
    await waitStreaming(worker);
    invalidator = await startInvalidator(config);
    peer = await startInvalidator(config);
    const ports = [await servicePort(invalidator), await servicePort(peer)];

    // A reader has filled every evict-only key; each later update must evict it.
    const redis = (stores.redis as unknown as { redis: import('ioredis').Redis }).redis;
    for (let id = 1; id <= ROWS; id++) await redis.hset(`${slate.keyPrefix}item-view:${id}`, 'd', 'stale');

    const writer = (async () => {
      for (let t = 0; t < TRANSACTIONS; t++) {
        const id = 1 + ((t * 37) % ROWS);
        await slate.db.query('UPDATE items SET version = version + 1 WHERE id = $1', [id]);
      }
    })();
    // Both members of the group do part of the work.
    await waitFor(
      'both invalidators apply operations',
      () => Promise.all(ports.map((port) => metricValue(port, 'cdc_cache_cache_ops_total'))),
      (counts) => counts.every((count) => count > 0),
      30_000,
    );
    for (let kill = 0; kill < KILLS; kill++) {
      await new Promise((resolve) => setTimeout(resolve, 800 + Math.random() * 1200));
      invalidator.kill('SIGKILL');
      await invalidator.exited;
      invalidator = await startInvalidator(config);
    }
    await writer;

    const { rows } = await slate.db.query<{ id: number; version: number }>(
      'SELECT id, version FROM items ORDER BY id',
    );
    const expected = (row: { id: number; version: number }) =>
      rowDocument({ id: String(row.id), version: String(row.version) });
    for (const store of ['redis', 'memcached'] as const) {
      await waitFor(
        `${store} converged`,
        async () => {
          const values = await Promise.all(
            rows.map((row) => cached(stores[store], 'public.items', 'item:{id}', { id: String(row.id) })),
          );
          return rows.filter((row, i) => values[i] !== expected(row)).length;
        },
        (wrong) => wrong === 0,
        60_000,
      );
    }
    const views = await Promise.all(
      rows.map((row) => redis.hget(`${slate.keyPrefix}item-view:${row.id}`, 'd')),
    );
    expect(views.filter((view) => view !== null)).toEqual([]);
  });
});
