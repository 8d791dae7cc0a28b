import { type CacheStore, MetaConnection, type StoreName } from '@cdc-cache/cache-stores';
import {
  freshSlate,
  type ServiceProcess,
  type Slate,
  stackAddresses,
  startService,
  writeConfig,
} from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, stopWorker, waitStreaming } from '../cdc-worker/worker-harness.js';
import {
  cacheConfig,
  currentKey,
  rowDocument,
  servicePort,
  startInvalidator,
  stopService,
  testStores,
} from './cache-harness.js';

// deploy/nginx/lua/cdc_cache/routes.lua serves these routes with no key prefix (the example
// config's), and sends misses to the read-api on 9484: this test uses both as they are, with
// row ids no other run uses.
const READ_API_PORT = 9484;
const base = 1_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
const cold = base + 1; // in PostgreSQL before anything runs: not in any cache
const hot = base + 2;
const product = base + 3;

let slate: Slate;
let worker: ServiceProcess | undefined;
let invalidator: ServiceProcess | undefined;
let readApi: ServiceProcess | undefined;
let stores: Record<StoreName, CacheStore>;

beforeAll(async () => {
  slate = await freshSlate('cache_nginx');
  await slate.db.query('CREATE TABLE users (id bigint PRIMARY KEY, name text)');
  await slate.db.query('CREATE TABLE products (id bigint PRIMARY KEY, title text, price numeric)');
  await slate.db.query(`INSERT INTO users VALUES (${cold}, 'cold')`);
  const config = cacheConfig(
    slate,
    ['public.users', 'public.products'],
    [
      { table: 'public.users', keys: [{ key: 'user:{id}', store: 'redis', action: 'refresh', ttl: 600 }] },
      {
        table: 'public.products',
        keys: [{ key: 'product:{id}', store: 'memcached', action: 'refresh', ttl: 600 }],
      },
    ],
    { keyPrefix: '', readApi: { port: READ_API_PORT } },
  );
  stores = testStores(slate, '');
  worker = await startWorker(config);
  await waitStreaming(worker);
  invalidator = await startInvalidator(config);
  readApi = startService('read-api', await writeConfig(config));
  await servicePort(readApi);
}, 120_000);

afterAll(async () => {
  await stopService(readApi);
  await stopService(invalidator);
  await stopWorker(worker);
  // This test writes without a key prefix: remove what it left (keys, fences, its queues).
  const redis = (stores.redis as unknown as { redis: import('ioredis').Redis }).redis;
  for (const id of [cold, hot]) {
    const ref = await currentKey(stores.redis, 'public.users', 'user:{id}', { id: String(id) }).catch(
      () => null,
    );
    if (ref) await redis.del(ref.key);
  }
  const queueKeys = await redis.keys(`{cdc-cache}:${slate.id}-*`);
  if (queueKeys.length > 0) await redis.del(...queueKeys);
  const memcached = new MetaConnection({
    host: '127.0.0.1',
    port: Number(stackAddresses.memcached.servers[0]!.split(':')[1]),
  });
  for (const key of [`product:${product}`, `product:${product}@v`, `product:${product}@l`]) {
    await memcached.request(`md ${key}`);
  }
  memcached.close();
  await Promise.all(Object.values(stores ?? {}).map((store) => store.close()));
  await slate?.dispose();
});

const nginx = (path: string) => fetch(`${stackAddresses.nginx.url}${path}`);

/** Polls NGINX until the response is a hit with this body; returns the ms it took. */
async function untilHit(path: string, body: string, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const response = await nginx(path);
    const text = await response.text();
    if (response.status === 200 && response.headers.get('x-cache') === 'HIT' && text === body)
      return Date.now() - started;
    if (Date.now() - started > timeoutMs) {
      throw new Error(
        `${path}: no hit with ${body} within ${timeoutMs} ms; last: ${response.status} ${response.headers.get('x-cache')} ${text}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('NGINX read path', () => {
  it('end to end: update a row -> worker -> Kafka -> invalidator -> NGINX serves the new value as a hit within a second (Redis)', async () => {
    await slate.db.query(`INSERT INTO users VALUES (${hot}, 'first')`);
    await untilHit(`/v1/users/${hot}`, rowDocument({ id: String(hot), name: 'first' }));
    await slate.db.query(`UPDATE users SET name = 'second' WHERE id = ${hot}`);
    const elapsed = await untilHit(`/v1/users/${hot}`, rowDocument({ id: String(hot), name: 'second' }));
    expect(elapsed).toBeLessThan(1000);
    const response = await nginx(`/v1/users/${hot}`);
    expect(response.headers.get('content-type')).toBe('application/json');
  });

  it('end to end through Memcached (core memcached module), within a second', async () => {
    await slate.db.query(`INSERT INTO products VALUES (${product}, 'Lamp', 12.50)`);
    await untilHit(
      `/v1/products/${product}`,
      rowDocument({ id: String(product), price: '12.50', title: 'Lamp' }),
    );
    await slate.db.query(`UPDATE products SET price = 9.99 WHERE id = ${product}`);
    const elapsed = await untilHit(
      `/v1/products/${product}`,
      rowDocument({ id: String(product), price: '9.99', title: 'Lamp' }),
    );
    expect(elapsed).toBeLessThan(1000);
  });

  it('a miss goes to the read-api, which fills the cache: the next request is a hit from NGINX', async () => {
    const miss = await nginx(`/v1/users/${cold}`);
    expect(miss.status).toBe(200);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(await miss.text()).toBe(rowDocument({ id: String(cold), name: 'cold' }));
    await untilHit(`/v1/users/${cold}`, rowDocument({ id: String(cold), name: 'cold' }), 1000);
    const none = await nginx(`/v1/products/${base + 99}`);
    expect(none.status).toBe(404);
  });

  it('a delete evicts: NGINX misses, and the read-api answers 404', async () => {
    await slate.db.query(`DELETE FROM users WHERE id = ${hot}`);
    const started = Date.now();
    for (;;) {
      const response = await nginx(`/v1/users/${hot}`);
      await response.text();
      if (response.status === 404) break;
      expect(Date.now() - started).toBeLessThan(2000);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });

  it('only configured routes are reachable; anything else is 404', async () => {
    for (const path of ['/v1/orders/1', '/v1/users/', '/v1/users/1/2', '/user:1', '/v1', '/cache/user:1']) {
      const response = await nginx(path);
      expect(response.status, path).toBe(404);
      expect(response.headers.get('x-cache'), path).toBeNull();
    }
  });
});
