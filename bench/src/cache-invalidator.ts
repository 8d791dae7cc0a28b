/**
 * Cache-invalidator benchmark: cache ops/s and commit -> cache-op-acknowledged latency.
 *
 *   node --import tsx bench/src/cache-invalidator.ts [--rate 1000] [--seconds 20] [--backlog 30000] [--rows 5000]
 *
 * Real cdc-worker and cache-invalidator processes on the local stack, a fresh database, rules
 * that refresh one Redis key and one Memcached key per row (2 cache ops per change):
 *  1. steady load: single-row UPDATEs (autocommit) at --rate changes/s for --seconds; the
 *     latency is the invalidator's own histogram cdc_cache_end_to_end_seconds (commit time in
 *     PostgreSQL -> the store acknowledged the op), p50/p99 interpolated within its buckets as
 *     Prometheus' histogram_quantile does;
 *  2. backlog: --backlog changes written while the invalidator is stopped, then it starts and
 *     drains them: cache ops/s at full speed (from cdc_cache_cache_ops_total).
 * Writes bench/results/<date>-cache-invalidator.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  freshSlate,
  type ServiceProcess,
  stackAddresses,
  startService,
  writeConfig,
} from '@cdc-cache/testkit';
import pg from 'pg';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    backlog: { type: 'string', default: '30000' },
    rows: { type: 'string', default: '5000' },
    out: { type: 'string' },
  },
});
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const BACKLOG = Number(args.backlog);
const ROWS = Number(args.rows);
const RESULTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'results');

const log = (line: string) => process.stderr.write(`[cache-bench] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Scrape {
  ops: number;
  buckets: { le: number; count: number }[];
  count: number;
  sum: number;
}

async function scrape(port: number): Promise<Scrape> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const result: Scrape = { ops: 0, buckets: [], count: 0, sum: 0 };
  const byLe = new Map<number, number>();
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('cdc_cache_cache_ops_total{') && line.includes('result="ok"')) result.ops += value;
    else if (line.startsWith('cdc_cache_cache_ops_total{') && line.includes('result="stale"'))
      result.ops += value;
    else if (line.startsWith('cdc_cache_end_to_end_seconds_bucket{')) {
      const le = /le="([^"]+)"/.exec(line)?.[1] ?? '+Inf';
      const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
      byLe.set(bound, (byLe.get(bound) ?? 0) + value);
    } else if (line.startsWith('cdc_cache_end_to_end_seconds_count{')) result.count += value;
    else if (line.startsWith('cdc_cache_end_to_end_seconds_sum{')) result.sum += value;
  }
  result.buckets = [...byLe.entries()].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  return result;
}

/** histogram_quantile over the difference of two scrapes, in ms. */
function quantile(q: number, before: Scrape, after: Scrape): number {
  const buckets = after.buckets.map((bucket, i) => ({
    le: bucket.le,
    count: bucket.count - (before.buckets[i]?.count ?? 0),
  }));
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let previousLe = 0;
  let previousCount = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return previousLe * 1000;
      return (
        (previousLe + ((bucket.le - previousLe) * (rank - previousCount)) / (bucket.count - previousCount)) *
        1000
      );
    }
    previousLe = bucket.le;
    previousCount = bucket.count;
  }
  return Number.NaN;
}

async function waitForOps(port: number, target: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await scrape(port)).ops < target) {
    if (Date.now() > deadline)
      throw new Error(`the invalidator did not reach ${target} cache ops within ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function portOf(service: ServiceProcess): Promise<number> {
  const line = await service.waitForLog(
    (entry) => typeof entry.port === 'number' && /serving/.test(String(entry.msg)),
  );
  return line.port as number;
}

async function stop(service: ServiceProcess | undefined): Promise<void> {
  if (!service || service.child.exitCode !== null) return;
  service.kill('SIGTERM');
  await service.exited;
}

const slate = await freshSlate('bench_cache');
let worker: ServiceProcess | undefined;
let invalidator: ServiceProcess | undefined;
const pool = new pg.Pool({ connectionString: slate.pgUrl, max: 8 });
try {
  await slate.db.query(
    'CREATE TABLE items (id int PRIMARY KEY, version int NOT NULL, payload text NOT NULL)',
  );
  await slate.db.query(
    `INSERT INTO items SELECT g, 0, repeat(md5(g::text), 4) FROM generate_series(1, ${ROWS}) g`,
  );
  const config = {
    source: {
      postgres: {
        url: slate.pgUrl,
        slot: slate.slotName,
        publication: slate.slotName,
        tables: ['public.items'],
        heartbeatIntervalMs: 1000,
        snapshot: { mode: 'never' },
      },
    },
    kafka: { brokers: [...stackAddresses.kafka.brokers], topicPrefix: slate.topicPrefix, partitions: 6 },
    stores: {
      redis: { url: stackAddresses.redis.url, keyPrefix: slate.keyPrefix },
      memcached: { servers: [...stackAddresses.memcached.servers], keyPrefix: slate.keyPrefix },
    },
    rules: [
      {
        table: 'public.items',
        keys: [
          { key: 'item:{id}', store: 'redis', action: 'refresh', ttl: 3600 },
          { key: 'item:{id}', store: 'memcached', action: 'refresh', ttl: 3600 },
        ],
      },
    ],
    services: { cdcWorker: { port: 0 }, cacheInvalidator: { port: 0, groupId: `${slate.id}-bench` } },
    log: { level: 'info' },
  };
  const configPath = await writeConfig(config);
  worker = startService('cdc-worker', configPath, { LOG_LEVEL: 'info' });
  await worker.waitForLog((line) => line.msg === 'streaming', 60_000);
  invalidator = startService('cache-invalidator', configPath, { LOG_LEVEL: 'info' });
  const port = await portOf(invalidator);
  await invalidator.waitForLog((line) => line.msg === 'consuming', 60_000);

  // Warm-up: the group settles, connections open.
  for (let i = 1; i <= 200; i++)
    await pool.query('UPDATE items SET version = version + 1 WHERE id = $1', [i]);
  await waitForOps(port, 400, 60_000);

  // 1. Steady load.
  log(`steady load: ${RATE} changes/s for ${SECONDS} s`);
  const before = await scrape(port);
  const started = Date.now();
  let written = 0;
  const tickMs = 10;
  const inFlight = new Set<Promise<unknown>>();
  while (Date.now() - started < SECONDS * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * RATE);
    while (written < due) {
      const id = 1 + ((written * 7919) % ROWS);
      const update = pool.query('UPDATE items SET version = version + 1 WHERE id = $1', [id]);
      inFlight.add(update);
      void update.finally(() => inFlight.delete(update));
      written++;
      if (inFlight.size >= 64) await Promise.race(inFlight);
    }
    await sleep(tickMs);
  }
  await Promise.all(inFlight);
  const writeSeconds = (Date.now() - started) / 1000;
  await waitForOps(port, before.ops + written * 2, 60_000);
  const steady = await scrape(port);
  const steadySeconds = (Date.now() - started) / 1000;
  const latency = {
    p50Ms: quantile(0.5, before, steady),
    p90Ms: quantile(0.9, before, steady),
    p99Ms: quantile(0.99, before, steady),
    meanMs: ((steady.sum - before.sum) / (steady.count - before.count)) * 1000,
    samples: steady.count - before.count,
  };
  log(
    `steady: ${written} changes in ${writeSeconds.toFixed(1)} s (${(written / writeSeconds).toFixed(0)}/s); commit -> cache p50 ${latency.p50Ms.toFixed(1)} ms, p99 ${latency.p99Ms.toFixed(1)} ms`,
  );

  // 2. Backlog drain: the invalidator stopped, changes written, then started.
  log(`backlog: ${BACKLOG} changes while the invalidator is stopped`);
  await stop(invalidator);
  for (let i = 0; i < BACKLOG; i += 500) {
    const count = Math.min(500, BACKLOG - i);
    await pool.query(
      `UPDATE items SET version = version + 1 WHERE id IN (SELECT 1 + ((g * 7919) % ${ROWS}) FROM generate_series(${i}, ${i + count - 1}) g)`,
    );
  }
  // 7919 is prime to the row count, so each statement changes `count` distinct rows.
  const changed = BACKLOG;
  await sleep(2000); // the worker has produced them
  invalidator = startService('cache-invalidator', configPath, { LOG_LEVEL: 'info' });
  const drainPort = await portOf(invalidator);
  await invalidator.waitForLog((line) => line.msg === 'consuming', 60_000);
  let first = 0;
  let firstAt = 0;
  let last = 0;
  let lastAt = 0;
  let idle = 0;
  for (;;) {
    const { ops } = await scrape(drainPort);
    const now = Date.now();
    if (first === 0 && ops > 0) {
      first = ops;
      firstAt = now;
    }
    if (ops === last && ops > 0) idle++;
    else idle = 0;
    if (ops !== last) {
      last = ops;
      lastAt = now;
    }
    if (idle >= 10) break;
    await sleep(100);
  }
  const drainOps = last - first;
  const drainSeconds = (lastAt - firstAt) / 1000;
  const opsPerSecond = drainOps / drainSeconds;
  log(`backlog: ${last} cache ops drained; ${opsPerSecond.toFixed(0)} cache ops/s`);

  const result = {
    date: new Date().toISOString(),
    host: { cpus: os.cpus().length, loadavg: os.loadavg() },
    command: `node --import tsx bench/src/cache-invalidator.ts --rate ${RATE} --seconds ${SECONDS} --backlog ${BACKLOG} --rows ${ROWS}`,
    rules: '2 cache ops per change: refresh item:{id} in Redis and in Memcached',
    steady: {
      targetRate: RATE,
      changes: written,
      changesPerSecond: written / writeSeconds,
      cacheOps: steady.ops - before.ops,
      cacheOpsPerSecond: (steady.ops - before.ops) / steadySeconds,
      commitToCacheMs: latency,
    },
    backlog: {
      changesWritten: changed,
      cacheOps: last,
      measuredOps: drainOps,
      seconds: drainSeconds,
      cacheOpsPerSecond: opsPerSecond,
    },
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const out = args.out ?? path.join(RESULTS_DIR, `${result.date.slice(0, 10)}-cache-invalidator.json`);
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\nwrote ${out}\n`);
} finally {
  await stop(invalidator);
  await stop(worker);
  await pool.end();
  await slate.dispose();
}
