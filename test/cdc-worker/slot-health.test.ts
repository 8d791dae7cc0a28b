import { freshSlate, type ServiceProcess, type Slate, stackAddresses } from '@cdc-cache/testkit';
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

let slate: Slate;
let other: Slate;
const workers: ServiceProcess[] = [];

beforeAll(async () => {
  slate = await freshSlate('worker_slot');
  other = await freshSlate('worker_slot_other');
  await slate.db.query('CREATE TABLE quiet (id int PRIMARY KEY, v int)');
  await other.db.query('CREATE TABLE busy (id serial PRIMARY KEY, filler text)');
});

afterAll(async () => {
  for (const worker of workers) await stopWorker(worker);
  await slate?.dispose();
  await other?.dispose();
});

async function slotPosition(db: pg.Client, slot: string) {
  const { rows } = await db.query<{ retained: string; confirmed: string }>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained, confirmed_flush_lsn::text AS confirmed
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  return { retained: Number(rows[0]!.retained), confirmed: rows[0]!.confirmed };
}

describe('slot health', () => {
  it('keeps retained WAL bounded while its tables are idle and other databases write', async () => {
    const worker = await startWorker(
      workerConfig(slate, ['public.quiet'], { postgres: { heartbeatIntervalMs: 300 } }),
    );
    workers.push(worker);
    await waitStreaming(worker);
    const admin = new pg.Client({ connectionString: stackAddresses.postgres.url() });
    await admin.connect();
    try {
      const confirmedLag: number[] = [];
      // ~12 MB of WAL elsewhere, in rounds; our tables stay idle the whole time.
      for (let round = 0; round < 10; round++) {
        await other.db.query(
          `INSERT INTO busy (filler) SELECT repeat(md5(g::text), 16) FROM generate_series(1, 2000) g`,
        );
        await new Promise((resolve) => setTimeout(resolve, 700));
        const { rows } = await admin.query<{ lag: string }>(
          `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag FROM pg_replication_slots WHERE slot_name = $1`,
          [slate.slotName],
        );
        confirmedLag.push(Number(rows[0]!.lag));
      }
      const walWritten = 10 * 2000 * 600;
      // Heartbeats and keepalives keep the confirmed position near the server's (without them it
      // would stay where the last change of our tables left it, pinning all WAL since).
      expect(Math.max(...confirmedLag.slice(2))).toBeLessThan(1_500_000);
      // PostgreSQL moves restart_lsn up to the confirmed position at its next running-xacts
      // record (every 15 s, or at a checkpoint): then the WAL written elsewhere is released.
      await admin.query('CHECKPOINT');
      await expect
        .poll(async () => (await slotPosition(admin, slate.slotName)).retained, {
          timeout: 15_000,
          interval: 500,
        })
        .toBeLessThan(walWritten / 4);
    } finally {
      await admin.end();
    }
  }, 120_000);

  it('hands the slot to a standby when the active worker dies, losing no change', async () => {
    // The first test's worker is active; a second one with the same config waits.
    const config = workerConfig(slate, ['public.quiet'], { postgres: { heartbeatIntervalMs: 300 } });
    const standby = await startWorker(config);
    workers.push(standby);
    await standby.waitForLog((line) => String(line.msg).includes('waiting as a standby'));

    await slate.db.query('INSERT INTO quiet SELECT g, 0 FROM generate_series(1, 50) g');
    workers[0]!.kill('SIGKILL');
    await workers[0]!.exited;
    // Writes go on while no worker streams.
    await slate.db.query('INSERT INTO quiet SELECT g, 0 FROM generate_series(51, 100) g');
    const started = Date.now();
    await waitStreaming(standby, 30_000);
    const takeover = Date.now() - started;
    expect(takeover).toBeLessThan(15_000);
    await slate.db.query('UPDATE quiet SET v = 1');

    const topic = `${slate.topicPrefix}.public.quiet`;
    const events = await readEvents(
      [topic],
      (events) => events.filter((e) => e.event.op === 'u').length >= 100,
    );
    const inserted = new Set(events.filter((e) => e.event.op === 'c').map((e) => String(e.event.key?.id)));
    expect(inserted.size).toBe(100);
  }, 120_000);
});
