import { freshSlate, type ServiceProcess, type Slate } from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DecodedMessage,
  readEvents,
  startWorker,
  stopWorker,
  waitStreaming,
  workerConfig,
} from './worker-harness.js';

const ROWS = 500;
const TRANSACTIONS = 4_000;
const UPDATES_PER_TRANSACTION = 5;
const KILLS = 6;

let slate: Slate;
let worker: ServiceProcess | undefined;

beforeAll(async () => {
  slate = await freshSlate('worker_crash');
  await slate.db.query('CREATE TABLE items (id int PRIMARY KEY, version int NOT NULL, payload text)');
  await slate.db.query(`INSERT INTO items SELECT g, 0, md5(g::text) FROM generate_series(1, ${ROWS}) g`);
});

afterAll(async () => {
  await stopWorker(worker);
  await slate?.dispose();
});

/** Per key, the versions in the order a consumer first sees them (replays after a crash are duplicates). */
function firstSeenVersions(events: DecodedMessage[]): Map<string, number[]> {
  const seen = new Map<string, Set<number>>();
  const order = new Map<string, number[]>();
  for (const { event } of events) {
    if (!event.after || !event.key) continue;
    const id = String(event.key.id);
    const version = Number(event.after.version);
    const versions = seen.get(id) ?? new Set<number>();
    seen.set(id, versions);
    if (versions.has(version)) continue;
    versions.add(version);
    order.set(id, [...(order.get(id) ?? []), version]);
  }
  return order;
}

describe('cdc-worker under SIGKILL', () => {
  it('loses no committed change and keeps per-key commit order across repeated kill -9', async () => {
    const config = workerConfig(slate, ['public.items'], { postgres: { snapshot: { mode: 'never' } } });
    worker = await startWorker(config);
    await waitStreaming(worker);

    // The writer: many small transactions, each bumping the version of a few rows by one.
    let committed = 0;
    const writer = (async () => {
      for (let t = 0; t < TRANSACTIONS; t++) {
        const ids = Array.from({ length: UPDATES_PER_TRANSACTION }, (_, i) => 1 + ((t * 7 + i * 131) % ROWS));
        await slate.db.query('BEGIN');
        for (const id of new Set(ids))
          await slate.db.query('UPDATE items SET version = version + 1 WHERE id = $1', [id]);
        await slate.db.query('COMMIT');
        committed += new Set(ids).size;
      }
    })();

    // The killer: SIGKILL at random moments, restart each time.
    let kills = 0;
    while (kills < KILLS) {
      await new Promise((resolve) => setTimeout(resolve, 700 + Math.random() * 1_500));
      worker.kill('SIGKILL');
      await worker.exited;
      kills += 1;
      worker = await startWorker(config);
      await waitStreaming(worker);
    }
    await writer;
    expect(committed).toBeGreaterThanOrEqual(20_000);

    const { rows } = await slate.db.query<{ id: number; version: number }>('SELECT id, version FROM items');
    const expected = new Map(rows.map((row) => [String(row.id), row.version]));
    const topic = `${slate.topicPrefix}.public.items`;
    const latest = new Map<string, number>();
    let counted = 0;
    const events = await readEvents(
      [topic],
      (events) => {
        for (; counted < events.length; counted++) {
          const { event } = events[counted]!;
          if (!event.after || !event.key) continue;
          const id = String(event.key.id);
          latest.set(id, Math.max(latest.get(id) ?? 0, Number(event.after.version)));
        }
        return [...expected].every(([id, version]) => version === 0 || latest.get(id) === version);
      },
      120_000,
    );

    const order = firstSeenVersions(events);
    for (const [id, finalVersion] of expected) {
      const versions = order.get(id) ?? [];
      // Every committed version of every row is there, first seen in commit order.
      expect(versions, `row ${id}`).toEqual(Array.from({ length: finalVersion }, (_, i) => i + 1));
    }
    // A replayed duplicate carries the same lsn as the original.
    const lsnOf = new Map<string, string>();
    for (const { event } of events) {
      const id = `${String(event.key?.id)}@${String(event.after?.version)}`;
      const known = lsnOf.get(id);
      if (known) expect(event.source.lsn, id).toBe(known);
      else lsnOf.set(id, event.source.lsn);
    }
  }, 300_000);
});
