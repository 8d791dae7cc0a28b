/**
 * Measurements of services that are being built while this harness is: each one is a HOOK that
 * runs when its service exists and is skipped with a printed reason otherwise.
 *
 *  - cacheInvalidatorBench (HOOK: services/cache-invalidator/src/main.ts): commit -> cache op
 *    acknowledged latency at fixed offered loads (from the invalidator's own
 *    cdc_cache_end_to_end_seconds histogram, per store), and its cache ops/s draining a
 *    backlog, compared with the redis-benchmark ceiling (redis-ceiling.ts);
 *  - thunderingHerd (HOOK: services/read-api/src/main.ts): 1000 readers of one hot key after an
 *    invalidation -> 1 database read (design.md). Not wired yet, see the TODO below;
 *  - productHitPath (HOOK: a bench route in deploy/nginx/lua/cdc_cache/routes.lua): the
 *    product's NGINX hit path next to the bare nginx+memcached location. Not wired yet.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type ServiceProcess, stackAddresses, startService, writeConfig } from '@cdc-cache/testkit';
import type pg from 'pg';
import { errorText, nowMs, progress, round, sleep } from './lib/log.js';
import { RssSampler } from './lib/proc.js';
import { bucketDeltas, buckets, histogramPercentile, type Samples, scrape, sum } from './lib/prom.js';
import { ROOT_DIR } from './paths.js';
import type { RunPlan } from './plan.js';
import { startCdcWorker, waitStreaming } from './systems/cdc-worker.js';
import { committedChanges, type PgTarget, pgUrl, runPgbench } from './workloads.js';

export interface Skipped {
  skipped: true;
  reason: string;
}

export function skipped(reason: string): Skipped {
  progress(`  skipped: ${reason}`);
  return { skipped: true, reason };
}

const INVALIDATOR_MAIN = path.join(ROOT_DIR, 'services/cache-invalidator/src/main.ts');
const READ_API_MAIN = path.join(ROOT_DIR, 'services/read-api/src/main.ts');
const CACHE_SCHEMA = 'cachebench';

export interface CacheLoadResult {
  offeredTps: number | null;
  transactions: number;
  changes: number;
  consumed: number;
  seconds: number;
  /** Per store: commit -> cache op acknowledged, ms, interpolated from the histogram buckets. */
  latencyMs: Record<
    string,
    { p50: number | null; p95: number | null; p99: number | null; buckets: { leMs: number; count: number }[] }
  >;
  cacheOpsPerSec: number;
}

export interface InvalidatorBench {
  loads: CacheLoadResult[];
  drain: {
    changes: number;
    seconds: number;
    eventsPerSec: number;
    cacheOpsPerSec: number;
    redisOpsPerSec: number;
  } | null;
  rssMiB: number | null;
  errors: string[];
}

interface Ctx {
  db: pg.Client;
  target: PgTarget;
  pgbench: string;
  plan: RunPlan;
  brokers: string[];
  topicPrefix: string;
  slotBase: string;
  keyPrefix: string;
}

function startInvalidator(configPath: string): ServiceProcess {
  return startService('cache-invalidator', configPath, { LOG_LEVEL: 'info' });
}

async function invalidatorPort(service: ServiceProcess): Promise<number> {
  const line = await service.waitForLog((l) => typeof l.port === 'number', 60_000);
  return line.port as number;
}

async function stopProcess(service: ServiceProcess): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.kill('SIGTERM');
  const timer = setTimeout(() => service.kill('SIGKILL'), 15_000);
  await service.exited;
  clearTimeout(timer);
}

const consumedOf = (s: Samples) => sum(s, 'cdc_cache_events_consumed_total');
const opsOf = (s: Samples, store?: string) =>
  sum(s, 'cdc_cache_cache_ops_total', store ? { store, result: 'ok' } : { result: 'ok' });

async function waitReady(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`the cache-invalidator was not ready (/readyz) within ${timeoutMs / 1000} s`);
}

async function waitConsumed(port: number, target: number, timeoutMs: number): Promise<Samples> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const samples = await scrape(port);
    if (consumedOf(samples) >= target || Date.now() > deadline) return samples;
    await sleep(100);
  }
}

/** HOOK: the cache-invalidator (skipped while services/cache-invalidator/src/main.ts does not exist). */
export async function cacheInvalidatorBench(ctx: Ctx): Promise<InvalidatorBench | Skipped> {
  if (!existsSync(INVALIDATOR_MAIN)) {
    return skipped(
      'services/cache-invalidator/src/main.ts does not exist yet: no commit -> cache-op latency, no invalidator ops/s',
    );
  }
  const errors: string[] = [];
  await ctx.db.query(`
    CREATE SCHEMA ${CACHE_SCHEMA};
    CREATE TABLE ${CACHE_SCHEMA}.counters (id int PRIMARY KEY, hits bigint NOT NULL DEFAULT 0, val int NOT NULL DEFAULT 0,
      label text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO ${CACHE_SCHEMA}.counters (id, label) SELECT g, 'counter ' || g FROM generate_series(1, ${ctx.plan.sizes.counters}) g;
  `);
  const config = {
    source: {
      postgres: {
        url: pgUrl(ctx.target),
        slot: `${ctx.slotBase}_cache`,
        publication: `${ctx.slotBase}_cache`,
        tables: [`${CACHE_SCHEMA}.counters`],
        snapshot: { mode: 'never' },
      },
    },
    kafka: { brokers: ctx.brokers, topicPrefix: ctx.topicPrefix, partitions: ctx.plan.partitions },
    stores: {
      redis: { url: stackAddresses.redis.url, keyPrefix: ctx.keyPrefix },
      memcached: { servers: [...stackAddresses.memcached.servers], keyPrefix: ctx.keyPrefix },
    },
    rules: [
      {
        table: `${CACHE_SCHEMA}.counters`,
        keys: [
          { key: 'counter:{id}', store: 'redis', action: 'refresh', ttl: 3600 },
          { key: 'counter:{id}', store: 'memcached', action: 'evict' },
        ],
      },
    ],
    services: {
      cdcWorker: { port: 0 },
      cacheInvalidator: { port: 0, groupId: `${ctx.slotBase}-invalidator` },
    },
    log: { level: 'info' },
  };
  const configPath = await writeConfig(config);
  const worker = await startCdcWorker({
    pgUrl: pgUrl(ctx.target),
    slot: `${ctx.slotBase}_cache`,
    publication: `${ctx.slotBase}_cache`,
    tables: [`${CACHE_SCHEMA}.counters`],
    brokers: ctx.brokers,
    topicPrefix: ctx.topicPrefix,
    partitions: ctx.plan.partitions,
    snapshot: 'never',
  });
  let invalidator = startInvalidator(configPath);
  const result: InvalidatorBench = { loads: [], drain: null, rssMiB: null, errors };
  try {
    await waitStreaming(worker);
    let port = await invalidatorPort(invalidator);
    const rss = new RssSampler(invalidator.child.pid ?? 0, 500);
    const rssDuring: number[] = [];
    const spec = {
      workload: 'update' as const,
      schema: CACHE_SCHEMA,
      seed: ctx.plan.seed,
      sizes: ctx.plan.sizes,
    };
    // Ready (joined its group, stores up), then a warm-up load that is consumed before measuring.
    await waitReady(port, 60_000);
    const warmBefore = consumedOf(await scrape(port));
    const warmChangesBefore = (await committedChanges(ctx.db, CACHE_SCHEMA)).get('counters') ?? 0;
    await runPgbench(ctx.pgbench, ctx.target, {
      ...spec,
      clients: 4,
      transactionsPerClient: 250,
      synchronousCommit: false,
    });
    const warmChanges =
      ((await committedChanges(ctx.db, CACHE_SCHEMA)).get('counters') ?? 0) - warmChangesBefore;
    await waitConsumed(port, warmBefore + warmChanges, 60_000);
    for (const rate of ctx.plan.cacheLoads) {
      const before = await scrape(port);
      const changesBefore = (await committedChanges(ctx.db, CACHE_SCHEMA)).get('counters') ?? 0;
      const started = nowMs();
      const run = await runPgbench(ctx.pgbench, ctx.target, {
        ...spec,
        clients: 8,
        seconds: ctx.plan.cacheSeconds,
        synchronousCommit: true,
        ...(rate !== null ? { rate } : {}),
      });
      if (rate === 5_000) rssDuring.push(...rss.between(started, nowMs()));
      const changes = ((await committedChanges(ctx.db, CACHE_SCHEMA)).get('counters') ?? 0) - changesBefore;
      const after = await waitConsumed(port, consumedOf(before) + changes, 60_000);
      const seconds = (nowMs() - started) / 1000;
      const latencyMs: CacheLoadResult['latencyMs'] = {};
      for (const store of ['redis', 'memcached']) {
        const b = buckets(before, 'cdc_cache_end_to_end_seconds', { sink: store });
        const a = buckets(after, 'cdc_cache_end_to_end_seconds', { sink: store });
        latencyMs[store] = {
          p50: histogramPercentile(b, a, 50),
          p95: histogramPercentile(b, a, 95),
          p99: histogramPercentile(b, a, 99),
          buckets: bucketDeltas(b, a),
        };
      }
      const load: CacheLoadResult = {
        offeredTps: rate,
        transactions: run.transactions,
        changes,
        consumed: consumedOf(after) - consumedOf(before),
        seconds: round(seconds, 2),
        latencyMs,
        cacheOpsPerSec: Math.round((opsOf(after) - opsOf(before)) / seconds),
      };
      result.loads.push(load);
      progress(
        `  invalidator @ ${rate ?? 'max'}/s: ${load.consumed}/${changes} events; commit -> cache op p50/p95/p99 ` +
          Object.entries(latencyMs)
            .map(([store, l]) => `${store} ${l.p50}/${l.p95}/${l.p99} ms`)
            .join(', '),
      );
    }

    rss.stop();
    rssDuring.sort((a, b) => a - b);
    result.rssMiB = rssDuring.length > 0 ? rssDuring[Math.floor(rssDuring.length / 2)]! : null;

    // Ops/s ceiling: a backlog written while the invalidator is stopped, then drained.
    await stopProcess(invalidator);
    const changesBefore = (await committedChanges(ctx.db, CACHE_SCHEMA)).get('counters') ?? 0;
    const producedBefore =
      worker.metricsPort !== null
        ? sum(await scrape(worker.metricsPort), 'cdc_cache_events_produced_total')
        : 0;
    await runPgbench(ctx.pgbench, ctx.target, {
      ...spec,
      clients: 4,
      transactionsPerClient: Math.ceil(ctx.plan.cacheBacklog / 4),
      synchronousCommit: false,
    });
    const changes = ((await committedChanges(ctx.db, CACHE_SCHEMA)).get('counters') ?? 0) - changesBefore;
    // Wait until the worker has produced them all, so the drain measures the invalidator alone.
    for (let i = 0; i < 600 && worker.metricsPort !== null; i++) {
      const produced =
        sum(await scrape(worker.metricsPort), 'cdc_cache_events_produced_total') - producedBefore;
      if (produced >= changes) break;
      await sleep(100);
    }
    invalidator = startInvalidator(configPath);
    port = await invalidatorPort(invalidator);
    const before = await scrape(port); // a new process: counters start at 0
    const started = nowMs();
    let firstOpAt = 0;
    const deadline = Date.now() + 120_000;
    let after = before;
    while (consumedOf(after) < changes && Date.now() < deadline) {
      await sleep(100);
      after = await scrape(port);
      if (firstOpAt === 0 && opsOf(after) > 0) firstOpAt = nowMs();
    }
    const seconds = (nowMs() - (firstOpAt || started)) / 1000;
    result.drain = {
      changes,
      seconds: round(seconds, 2),
      eventsPerSec: Math.round(consumedOf(after) / seconds),
      cacheOpsPerSec: Math.round(opsOf(after) / seconds),
      redisOpsPerSec: Math.round(opsOf(after, 'redis') / seconds),
    };
    progress(
      `  invalidator drain: ${consumedOf(after)}/${changes} events in ${result.drain.seconds} s, ${result.drain.cacheOpsPerSec} cache ops/s`,
    );
  } catch (error) {
    errors.push(errorText(error));
    progress(`  invalidator hook failed: ${errorText(error)}`);
  } finally {
    await stopProcess(invalidator);
    await worker.stop();
  }
  return result;
}

/** HOOK: thundering herd through the read-api (skipped while services/read-api/src/main.ts does not exist). */
export async function thunderingHerd(): Promise<Skipped> {
  if (!existsSync(READ_API_MAIN)) {
    return skipped('services/read-api/src/main.ts does not exist yet: no thundering-herd measurement');
  }
  // TODO(read-api): start read-api and the stack's nginx route for a bench table, fill one hot
  // key, invalidate it (UPDATE the row), fire 1000 concurrent GETs for it and count the
  // database reads (pg_stat_user_tables.seq_scan + idx_scan of the table, or the read-api's
  // own metric); the goal is 1 read. Wire it once the read-api's route contract is settled.
  return skipped(
    'services/read-api exists, but the herd measurement is not wired yet (TODO in bench/src/hooks.ts)',
  );
}

/** HOOK: the product's NGINX hit path (deploy/nginx read_path.lua) next to the bare location. */
export function productHitPath(): Skipped {
  // TODO(read path): add a route for a bench table to lua/cdc_cache/routes.lua (or let the bench
  // render its own), seed the key at generation 0 as cache-stores writes it, and run wrk
  // against /v1/<route>/<id> on the stack's nginx, next to the bare memcached location.
  return skipped(
    "the product's NGINX hit path (deploy/nginx lua/cdc_cache) has no bench route yet (TODO in bench/src/hooks.ts)",
  );
}
