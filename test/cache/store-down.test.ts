import { DeadLetterQueue } from '@cdc-cache/cache-invalidator';
import type { CacheStore, StoreName } from '@cdc-cache/cache-stores';
import { createTopicAdmin, type TopicAdmin } from '@cdc-cache/kafka';
import { freshSlate, type ServiceProcess, type Slate, stackAddresses } from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, stopWorker, waitStreaming } from '../cdc-worker/worker-harness.js';
import {
  cacheConfig,
  cached,
  servicePort,
  startInvalidator,
  stopService,
  testStores,
  waitFor,
} from './cache-harness.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

let slate: Slate;
let worker: ServiceProcess | undefined;
let invalidator: ServiceProcess | undefined;
let stores: Record<StoreName, CacheStore>;
let redisProxy: TcpProxy;
let memcachedProxy: TcpProxy;
let admin: TopicAdmin;
let deadLetters: DeadLetterQueue;
let port: number;
let group: string;
let topic: string;

const USERS = 'public.users';

beforeAll(async () => {
  slate = await freshSlate('cache_store_down');
  await slate.db.query('CREATE TABLE users (id bigint PRIMARY KEY, email text, name text)');
  await slate.db.query('ALTER TABLE users REPLICA IDENTITY FULL');
  stores = testStores(slate);
  // Only the invalidator goes through the proxies; everyone else reaches the servers directly.
  redisProxy = await startTcpProxy(Number(new URL(stackAddresses.redis.url).port));
  memcachedProxy = await startTcpProxy(Number(stackAddresses.memcached.servers[0]!.split(':')[1]));
  const rules = [
    {
      table: USERS,
      keys: [
        { key: 'user:{id}', store: 'redis' as const, action: 'refresh' as const },
        { key: 'user:email:{email}', store: 'memcached' as const, action: 'refresh' as const },
      ],
    },
  ];
  const config = cacheConfig(slate, [USERS], rules, {
    redisUrl: `redis://127.0.0.1:${redisProxy.port}`,
    memcachedServers: [`127.0.0.1:${memcachedProxy.port}`],
    invalidator: { retry: { attempts: 3, backoffMs: 200 } },
  });
  group = `${slate.id}-invalidator`;
  topic = `${slate.topicPrefix}.public.users`;
  deadLetters = new DeadLetterQueue({
    url: stackAddresses.redis.url,
    prefix: `${slate.keyPrefix}{cdc-cache}`,
    group,
  });
  admin = createTopicAdmin({ brokers: [...stackAddresses.kafka.brokers], clientId: 'store-down-test' });
  await admin.connect();
  worker = await startWorker(config);
  await waitStreaming(worker);
  invalidator = await startInvalidator(config);
  port = await servicePort(invalidator);
}, 120_000);

afterAll(async () => {
  await stopService(invalidator);
  await stopWorker(worker);
  await admin?.disconnect();
  await deadLetters?.close();
  await redisProxy?.close();
  await memcachedProxy?.close();
  await Promise.all(Object.values(stores ?? {}).map((store) => store.close()));
  await slate?.dispose();
});

const ready = async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
const lag = async () => (await admin.consumerLag(group, [topic])).reduce((sum, entry) => sum + entry.lag, 0);
const user = (id: number) => cached(stores.redis, USERS, 'user:{id}', { id: String(id) });
const byEmail = (email: string) => cached(stores.memcached, USERS, 'user:email:{email}', { email });

describe('a store that goes down (unreachable for the invalidator only)', () => {
  it('Redis down: retries with backoff, no offset committed past the unacknowledged work, readiness false; recovers by itself', async () => {
    await slate.db.query(`INSERT INTO users VALUES (1, 'ada@example.com', 'Ada')`);
    await waitFor(
      'insert applied',
      () => user(1),
      (value) => value?.includes('Ada') ?? false,
    );
    await waitFor('ready', ready, (value) => value);
    await waitFor('committed', lag, (value) => value === 0);

    await redisProxy.cut();
    await slate.db.query(`UPDATE users SET name = 'Ada King' WHERE id = 1`);
    await slate.db.query(`INSERT INTO users VALUES (2, 'bob@example.com', 'Bob')`);
    await waitFor('not ready', ready, (value) => !value, 15_000);
    // The retry queue lives in that Redis too: nothing can take the work over, so nothing is committed.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await lag()).toBeGreaterThan(0);
    expect(await user(1)).toContain('"Ada"');

    await redisProxy.restore();
    await waitFor(
      'update applied',
      () => user(1),
      (value) => value?.includes('Ada King') ?? false,
      30_000,
    );
    await waitFor(
      'insert applied',
      () => user(2),
      (value) => value?.includes('Bob') ?? false,
    );
    await waitFor('committed again', lag, (value) => value === 0, 15_000);
    await waitFor('ready again', ready, (value) => value);
  });

  it('Memcached down: its operations go to the retry queue (offsets move on), and apply when it is back', async () => {
    await memcachedProxy.cut();
    await slate.db.query(`UPDATE users SET email = 'ada@king.org' WHERE id = 1`);
    await waitFor('not ready', ready, (value) => !value, 15_000);
    // Handed to the retry queue in Redis: committed, and the Redis side is current already.
    await waitFor('committed', lag, (value) => value === 0, 15_000);
    await waitFor(
      'redis applied',
      () => user(1),
      (value) => value?.includes('ada@king.org') ?? false,
    );
    expect(await byEmail('ada@example.com')).toContain('Ada');

    // An outage does not use attempts up: after several backoffs it is still waiting, not dead.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await deadLetters.count()).toBe(0);

    await memcachedProxy.restore();
    await waitFor(
      'memcached applied',
      () => byEmail('ada@king.org'),
      (value) => value?.includes('Ada King') ?? false,
      30_000,
    );
    await waitFor(
      'old email evicted',
      () => byEmail('ada@example.com'),
      (value) => value === null,
      30_000,
    );
    await waitFor('ready again', ready, (value) => value);
    expect(await deadLetters.count()).toBe(0);
  });
});
