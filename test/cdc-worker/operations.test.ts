import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freshSlate, type ServiceProcess, type Slate, stackAddresses, writeConfig } from '@cdc-cache/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  distinctKeys,
  readEvents,
  startWorker,
  stopWorker,
  waitStreaming,
  workerConfig,
} from './worker-harness.js';

const run = promisify(execFile);
let slate: Slate;
let worker: ServiceProcess | undefined;
let configPath: string;
let metricsPort: number;

beforeAll(async () => {
  slate = await freshSlate('worker_ops');
  await slate.db.query('CREATE TABLE products (id int PRIMARY KEY, name text)');
  await slate.db.query(`INSERT INTO products SELECT g, 'p' || g FROM generate_series(1, 500) g`);
  const config = workerConfig(slate, ['public.products'], { postgres: { snapshot: { mode: 'never' } } });
  configPath = await writeConfig(config);
  worker = await startWorker(config);
  await waitStreaming(worker);
  metricsPort = Number(
    (await worker.waitForLog((line) => line.msg === 'serving /metrics, /healthz, /readyz')).port,
  );
});

afterAll(async () => {
  await stopWorker(worker);
  await slate?.dispose();
});

const topic = () => `${slate.topicPrefix}.public.products`;

describe('cdc-worker operations', () => {
  it('re-snapshots one table on demand while streaming, with progress, and exits 0 when done', async () => {
    const { stdout } = await run(
      'node',
      ['bin/cdc-cache.mjs', 'resnapshot', 'public.products', '--config', configPath],
      {
        timeout: 120_000,
      },
    );
    expect(stdout).toMatch(/^requested snapshot #\d+ of public\.products/);
    expect(stdout.trim().split('\n').at(-1)).toMatch(
      /public\.products \[#{20}\] 100% {2}500\/500 rows .* done$/,
    );
    const events = await readEvents(
      [topic()],
      (events) => events.filter((e) => e.event.op === 'r').length >= 500,
    );
    const keys = new Set(events.filter((e) => e.event.op === 'r').map((e) => e.event.key?.id));
    expect(keys.size).toBe(500);
  });

  it('refuses to re-snapshot a table it does not capture, in one line', async () => {
    const failure = (await run('node', [
      'bin/cdc-cache.mjs',
      'resnapshot',
      'public.nope',
      '--config',
      configPath,
    ]).catch((error: unknown) => error)) as { code: number; stderr: string };
    expect(failure.code).toBe(1);
    expect(failure.stderr.trim()).toBe(
      'cdc-cache resnapshot: table public.nope is not captured (source.postgres.tables: public.products); add it to the config first',
    );
  });

  it('resumes by itself when its replication connection is cut, losing nothing', async () => {
    const admin = new pg.Client({ connectionString: stackAddresses.postgres.url() });
    await admin.connect();
    try {
      await slate.db.query(`UPDATE products SET name = name || '-a' WHERE id <= 100`);
      // As if PostgreSQL restarted: the walsender serving this slot goes away mid-stream.
      await admin.query(
        'SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1',
        [slate.slotName],
      );
      await slate.db.query(`UPDATE products SET name = name || '-b' WHERE id <= 100`);
      await worker!.waitForLog((line) => line.msg === 'stream failed: restarting from the confirmed LSN');
      // Every row's second update, whatever partition it is in.
      const updated = new Set<string>();
      let scanned = 0;
      const events = await readEvents([topic()], (events) => {
        for (; scanned < events.length; scanned++) {
          const { event } = events[scanned]!;
          if (event.op === 'u' && String(event.after?.name).endsWith('-a-b'))
            updated.add(String(event.key?.id));
        }
        return updated.size === 100;
      });
      for (let id = 1; id <= 100; id++) {
        const names = events
          .filter((e) => e.event.op === 'u' && e.event.key?.id === String(id))
          .map((e) => e.event.after?.name);
        expect(names, `row ${id}`).toContain(`p${id}-a`);
        expect(names, `row ${id}`).toContain(`p${id}-a-b`);
      }
    } finally {
      await admin.end();
    }
  });

  it('exposes lag, retained WAL and events per table on /metrics, and is ready while streaming', async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^cdc_cache_replication_lag_bytes\{slot="[^"]+",service="cdc-worker"\} \d+/m);
    expect(metrics).toMatch(/^cdc_cache_replication_lag_seconds\{/m);
    expect(metrics).toMatch(/^cdc_cache_slot_retained_wal_bytes\{slot="[^"]+",service="cdc-worker"\} \d+/m);
    expect(metrics).toMatch(/^cdc_cache_slot_active\{slot="[^"]+",service="cdc-worker"\} 1/m);
    expect(metrics).toMatch(
      /^cdc_cache_events_produced_total\{table="public.products",op="u",service="cdc-worker"\} [1-9]/m,
    );
    expect(metrics).toMatch(
      /^cdc_cache_snapshot_rows_total\{table="public.products",service="cdc-worker"\} 500/m,
    );
    expect(metrics).toMatch(/^cdc_cache_commit_to_kafka_seconds_bucket\{/m);
    expect(metrics).toMatch(/^cdc_cache_worker_active\{service="cdc-worker"\} 1/m);
    const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, detail: { state: 'streaming' } });
    expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(200);
  });

  it('drains on SIGTERM: confirms what Kafka has and exits 0', async () => {
    worker!.kill('SIGTERM');
    expect(await worker!.exited).toBe(0);
    expect(worker!.logs.some((line) => line.msg === 'drained; exiting')).toBe(true);
  });
});
