import {
  freshSlate,
  type KafkaFaultProxy,
  type ServiceProcess,
  type Slate,
  startKafkaFaultProxy,
} from '@cdc-cache/testkit';
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
let worker: ServiceProcess | undefined;
let proxy: KafkaFaultProxy;

beforeAll(async () => {
  slate = await freshSlate('worker_unacked');
  await slate.db.query('CREATE TABLE orders (id int PRIMARY KEY, total int)');
  proxy = await startKafkaFaultProxy();
});

afterAll(async () => {
  await stopWorker(worker);
  await proxy?.close();
  await slate?.dispose();
});

async function confirmedFlush(): Promise<bigint> {
  const { rows } = await slate.db.query<{ diff: string }>(
    `SELECT pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::text AS diff FROM pg_replication_slots WHERE slot_name = $1`,
    [slate.slotName],
  );
  return BigInt(rows[0]!.diff);
}

describe('an LSN Kafka has not acknowledged', () => {
  it('is never confirmed to PostgreSQL, and the change arrives after a kill -9 once Kafka answers again', async () => {
    const topic = `${slate.topicPrefix}.public.orders`;
    const config = workerConfig(slate, ['public.orders'], { postgres: { snapshot: { mode: 'never' } } });
    (config.kafka as { brokers: string[] }).brokers = proxy.brokers;
    worker = await startWorker(config);
    await waitStreaming(worker);
    // Settle: heartbeats and keepalives move the slot while nothing is pending.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const { rows } = await slate.db.query<{ lsn: string }>(
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS lsn`,
    );
    const beforeWrites = BigInt(rows[0]!.lsn);

    // Kafka stops answering this worker; PostgreSQL commits changes it must not lose.
    proxy.hold();
    await slate.db.query('INSERT INTO orders SELECT g, g FROM generate_series(1, 200) g');
    await slate.db.query('UPDATE orders SET total = total + 1');
    // Time to receive the changes, try to send them, and (wrongly) confirm if it would.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(await confirmedFlush()).toBeLessThanOrEqual(beforeWrites);

    worker.kill('SIGKILL');
    await worker.exited;
    proxy.release();
    worker = await startWorker(config);
    await waitStreaming(worker);

    const events = await readEvents(
      [topic],
      (events) => events.filter((e) => e.event.op === 'u').length >= 200,
    );
    expect(new Set(events.filter((e) => e.event.op === 'c').map((e) => e.event.key?.id)).size).toBe(200);
    expect(new Set(events.filter((e) => e.event.op === 'u').map((e) => e.event.key?.id)).size).toBe(200);
    // And once Kafka has them, the slot moves on.
    await expect
      .poll(async () => (await confirmedFlush()) > beforeWrites, { timeout: 10_000, interval: 250 })
      .toBe(true);
  }, 120_000);
});
