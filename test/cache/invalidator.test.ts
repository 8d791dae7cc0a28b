import { DeadLetterQueue, queueConnection, runDeadLetterCommand } from '@cdc-cache/cache-invalidator';
import type { CacheStore, StoreName } from '@cdc-cache/cache-stores';
import { type Config, parseConfig } from '@cdc-cache/core';
import { freshSlate, type ServiceProcess, type Slate } from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, stopWorker, waitStreaming } from '../cdc-worker/worker-harness.js';
import {
  cacheConfig,
  cached,
  currentKey,
  metricValue,
  rowDocument,
  servicePort,
  startInvalidator,
  stopService,
  testStores,
  waitFor,
} from './cache-harness.js';

let slate: Slate;
let worker: ServiceProcess | undefined;
let invalidator: ServiceProcess | undefined;
let stores: Record<StoreName, CacheStore>;
let deadLetters: DeadLetterQueue;
let port: number;
let parsedConfig: Config;

const USERS = 'public.users';
const rules = [
  {
    table: USERS,
    keys: [
      { key: 'user:{id}', store: 'redis' as const, action: 'refresh' as const, ttl: 3600 },
      { key: 'user:email:{email}', store: 'memcached' as const, action: 'refresh' as const, ttl: 600 },
      { key: 'user:name:{name}', store: 'redis' as const, action: 'evict' as const },
    ],
  },
];

beforeAll(async () => {
  slate = await freshSlate('cache_invalidator');
  await slate.db.query('CREATE TABLE users (id bigint PRIMARY KEY, email text, name text)');
  await slate.db.query('ALTER TABLE users REPLICA IDENTITY FULL');
  await slate.db.query('CREATE TABLE audit (id bigint PRIMARY KEY, note text)');
  const config = cacheConfig(slate, [USERS, 'public.audit'], rules, {
    invalidator: { retry: { attempts: 3, backoffMs: 200 } },
  });
  stores = testStores(slate);
  parsedConfig = parseConfig(JSON.stringify(config), { env: {} });
  deadLetters = new DeadLetterQueue(queueConnection(parsedConfig));
  worker = await startWorker(config);
  await waitStreaming(worker);
  invalidator = await startInvalidator(config);
  port = await servicePort(invalidator);
}, 120_000);

afterAll(async () => {
  await stopService(invalidator);
  await stopWorker(worker);
  await deadLetters?.close();
  await Promise.all(Object.values(stores ?? {}).map((store) => store.close()));
  await slate?.dispose();
});

const user = (id: number) => cached(stores.redis, USERS, 'user:{id}', { id: String(id) });
const byEmail = (email: string) => cached(stores.memcached, USERS, 'user:email:{email}', { email });

describe('cache-invalidator with the real cdc-worker', () => {
  it('an insert refreshes both stores with the row document', async () => {
    await slate.db.query(`INSERT INTO users VALUES (1, 'ada@example.com', 'Ada')`);
    const document = rowDocument({ email: 'ada@example.com', id: '1', name: 'Ada' });
    await waitFor(
      'redis user:1',
      () => user(1),
      (value) => value === document,
    );
    await waitFor(
      'memcached user:email',
      () => byEmail('ada@example.com'),
      (value) => value === document,
    );
  });

  it('an update that changes the email evicts the key of the old email (before-image) and refreshes the new one', async () => {
    await slate.db.query(`UPDATE users SET email = 'ada@lovelace.org' WHERE id = 1`);
    const document = rowDocument({ email: 'ada@lovelace.org', id: '1', name: 'Ada' });
    await waitFor(
      'memcached new email',
      () => byEmail('ada@lovelace.org'),
      (value) => value === document,
    );
    expect(await byEmail('ada@example.com')).toBeNull();
    expect(await user(1)).toBe(document);
  });

  it('a delete evicts every key of the row', async () => {
    await slate.db.query(`INSERT INTO users VALUES (2, 'bob@example.com', 'Bob')`);
    await waitFor(
      'insert',
      () => user(2),
      (value) => value !== null,
    );
    await slate.db.query('DELETE FROM users WHERE id = 2');
    await waitFor(
      'delete',
      () => user(2),
      (value) => value === null,
    );
    expect(await byEmail('bob@example.com')).toBeNull();
  });

  it('a truncate invalidates every key of the table in both stores', async () => {
    await slate.db.query(`INSERT INTO users VALUES (3, 'cy@example.com', 'Cy')`);
    await waitFor(
      'insert',
      () => byEmail('cy@example.com'),
      (value) => value !== null,
    );
    const route = `${slate.keyPrefix}user:email:cy%40example.com`;
    await slate.db.query('TRUNCATE users');
    await waitFor(
      'generations bumped',
      async () => [
        await stores.redis.generation(USERS, route),
        await stores.memcached.generation(USERS, route),
      ],
      ([redis, memcached]) => redis!.generation === 1 && memcached!.generation === 1,
    );
    expect(await user(1)).toBeNull();
    expect(await byEmail('cy@example.com')).toBeNull();
    // The generation-0 values are unreachable, and new changes land in generation 1.
    await slate.db.query(`INSERT INTO users VALUES (3, 'cy@example.com', 'Cy 2')`);
    await waitFor(
      'after truncate',
      () => byEmail('cy@example.com'),
      (value) => value?.includes('Cy 2') ?? false,
    );
  });

  it('a row whose key does not render becomes a dead letter with the reason; the pipeline continues', async () => {
    await slate.db.query(`INSERT INTO users VALUES (4, NULL, 'Dee')`);
    await slate.db.query(`INSERT INTO users VALUES (5, 'eve@example.com', 'Eve')`);
    await waitFor(
      'the next row',
      () => user(5),
      (value) => value !== null,
    );
    // The keys that render were applied; the one that does not is a dead letter.
    expect(await user(4)).toContain('Dee');
    const letters = await waitFor(
      'dead letter',
      () => deadLetters.list(),
      (list) => list.length > 0,
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ reason: 'key-render', entry: { kind: 'event' } });
    expect(letters[0]!.message).toContain('"email" is NULL');
    expect(await metricValue(port, 'cdc_cache_dead_letters_total', { reason: 'key-render' })).toBe(1);
  });

  it('a poison operation is retried with backoff, then dead-lettered, without blocking other keys; replay applies it', async () => {
    // Something else owns user:6 in Redis (a string, not our hash): Redis refuses every attempt.
    const redis = (stores.redis as unknown as { redis: import('ioredis').Redis }).redis;
    const { key } = await currentKey(stores.redis, USERS, 'user:{id}', { id: '6' });
    await redis.set(key, 'not ours');
    await slate.db.query(`INSERT INTO users VALUES (6, 'fay@example.com', 'Fay')`);
    await slate.db.query(`INSERT INTO users VALUES (7, 'gus@example.com', 'Gus')`);
    await waitFor(
      'the next key',
      () => user(7),
      (value) => value !== null,
    );
    expect(await byEmail('fay@example.com')).toContain('Fay');
    const letters = await waitFor(
      'dead letter after the attempts',
      () => deadLetters.list(),
      (list) => list.some((letter) => letter.reason === 'attempts-exhausted'),
    );
    const poison = letters.find((letter) => letter.reason === 'attempts-exhausted')!;
    expect(poison).toMatchObject({
      attempts: 3,
      entry: { kind: 'op', op: { store: 'redis', kind: 'refresh' } },
    });
    expect(poison.message).toContain('WRONGTYPE');
    expect(await metricValue(port, 'cdc_cache_retries_total', { sink: 'redis' })).toBeGreaterThanOrEqual(2);

    // The operator fixes the cause and replays the dead letter: it is applied.
    await redis.del(key);
    expect(await deadLetters.replay([poison.id])).toBe(1);
    await waitFor(
      'replayed',
      () => user(6),
      (value) => value?.includes('Fay') ?? false,
    );
    expect((await deadLetters.list()).some((letter) => letter.id === poison.id)).toBe(false);
  });

  it('`dead-letters list` shows each dead letter with its reason', async () => {
    let out = '';
    let err = '';
    const code = await runDeadLetterCommand(['list'], parsedConfig, {
      out: { write: (text: string) => (out += text) },
      err: { write: (text: string) => (err += text) },
    });
    expect(code).toBe(0);
    expect(out).toMatch(/\tkey-render\t.*"email" is NULL/);
    expect(err).toContain('1 dead letter(s)');
  });

  it('an event of a table without a rule is counted and skipped', async () => {
    await slate.db.query(`INSERT INTO audit VALUES (1, 'hello')`);
    await waitFor(
      'skipped',
      () => metricValue(port, 'cdc_cache_events_skipped_total', { reason: 'no_rule' }),
      (count) => count === 1,
    );
  });

  it('exports cache ops, end-to-end latency and consumer lag', async () => {
    expect(
      await metricValue(port, 'cdc_cache_cache_ops_total', {
        store: 'redis',
        action: 'refresh',
        result: 'ok',
      }),
    ).toBeGreaterThan(0);
    expect(
      await metricValue(port, 'cdc_cache_end_to_end_seconds_count', { sink: 'memcached' }),
    ).toBeGreaterThan(0);
    await waitFor(
      'lag',
      async () =>
        (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).match(
          /cdc_cache_consumer_lag_messages\{[^}]*partition="\d"/g,
        )?.length ?? 0,
      (count) => count >= 3,
      10_000,
    );
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
  });
});
