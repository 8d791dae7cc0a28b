import { freshSlate, type ServiceProcess, type Slate } from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvents, startWorker, stopWorker, waitStreaming, workerConfig } from './worker-harness.js';

const ROWS = 100_000;
const CHUNK = 2_000;

let slate: Slate;
let worker: ServiceProcess | undefined;

beforeAll(async () => {
  slate = await freshSlate('worker_snapshot');
  await slate.db.query('CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, note text)');
  await slate.db.query(`INSERT INTO accounts SELECT g, g * 10, 'n' || g FROM generate_series(1, ${ROWS}) g`);
  await slate.db.query('ANALYZE accounts');
});

afterAll(async () => {
  await stopWorker(worker);
  await slate?.dispose();
});

describe('initial snapshot', () => {
  it('is consistent with the stream under concurrent writes and resumes after kill -9 without starting over', async () => {
    const config = workerConfig(slate, ['public.accounts'], { postgres: { snapshot: { batchSize: CHUNK } } });
    worker = await startWorker(config);
    await waitStreaming(worker);

    // A writer updates, deletes and inserts rows all through the snapshot.
    let writing = true;
    const writer = (async () => {
      let round = 0;
      while (writing) {
        const id = 1 + ((round * 7_919) % ROWS);
        await slate.db.query('UPDATE accounts SET balance = balance + 1, note = $2 WHERE id = $1', [
          id,
          `w${round}`,
        ]);
        if (round % 50 === 0) await slate.db.query('DELETE FROM accounts WHERE id = $1', [ROWS - round]);
        if (round % 50 === 25)
          await slate.db.query('INSERT INTO accounts VALUES ($1, 1, $2)', [ROWS + round, 'new']);
        round += 1;
      }
    })();

    // Kill -9 halfway through the snapshot.
    const halfway = await worker.waitForLog(
      (line) => line.msg === 'snapshot progress' && Number(line.rowsDone) >= ROWS / 2,
      120_000,
    );
    worker.kill('SIGKILL');
    await worker.exited;
    const progress = await slate.db.query<{ rows_done: string; status: string }>(
      'SELECT rows_done, status FROM cdc_cache.snapshots',
    );
    const doneAtKill = Number(progress.rows[0]!.rows_done);
    expect(doneAtKill).toBeGreaterThanOrEqual(Number(halfway.rowsDone));
    expect(progress.rows[0]!.status).toBe('running');

    worker = await startWorker(config);
    await waitStreaming(worker);
    // It resumes where it stopped: the first progress after the restart counts on from there.
    const resumed = await worker.waitForLog(
      (line) => line.msg === 'snapshot progress' || line.msg === 'snapshot done',
      120_000,
    );
    expect(Number(resumed.rowsDone)).toBeGreaterThan(doneAtKill);
    expect(Number(resumed.rowsDone)).toBeLessThanOrEqual(doneAtKill + CHUNK);
    await worker.waitForLog((line) => line.msg === 'snapshot done', 180_000);
    writing = false;
    await writer;
    // Markers written last: once every one is read, each partition is read up to its end
    // (30 keys spread over 3 partitions; partitions are consumed independently).
    const markers = Array.from({ length: 30 }, (_, i) => String(ROWS * 10 + i));
    await slate.db.query(`INSERT INTO accounts SELECT g, 0, 'marker' FROM unnest($1::int[]) g`, [markers]);

    const topic = `${slate.topicPrefix}.public.accounts`;
    const seenMarkers = new Set<string>();
    let scanned = 0;
    const events = await readEvents(
      [topic],
      (events) => {
        for (; scanned < events.length; scanned++) {
          const { event } = events[scanned]!;
          if (event.after?.note === 'marker') seenMarkers.add(String(event.key?.id));
        }
        return seenMarkers.size === markers.length;
      },
      180_000,
    );

    // The last event per key equals the row in PostgreSQL; deleted rows end deleted.
    const last = new Map<string, (typeof events)[number]['event']>();
    for (const { event } of events) if (event.key) last.set(String(event.key.id), event);
    const { rows } = await slate.db.query<{ id: number; balance: string; note: string }>(
      'SELECT id, balance::text, note FROM accounts',
    );
    const inDatabase = new Map(rows.map((row) => [String(row.id), row]));
    let checked = 0;
    const mismatches: string[] = [];
    for (const [id, row] of inDatabase) {
      const event = last.get(id);
      const expected = { id, balance: row.balance, note: row.note };
      if (!event || event.op === 'd' || JSON.stringify(event.after) !== JSON.stringify(expected)) {
        const history = events
          .filter((message) => String(message.event.key?.id) === id)
          .map((message) => [
            message.offset,
            message.event.op,
            message.event.source.lsn,
            message.event.after?.balance,
          ]);
        mismatches.push(
          `row ${id}: in PostgreSQL ${JSON.stringify(expected)}, events ${JSON.stringify(history)}`,
        );
      }
      checked += 1;
    }
    expect(mismatches.length, mismatches.slice(0, 5).join('\n')).toBe(0);
    for (const [id, event] of last) {
      if (!inDatabase.has(id)) expect(event.op, `deleted row ${id}`).toBe('d');
    }
    expect(checked).toBeGreaterThan(ROWS * 0.9);

    // Not started over: snapshot reads are at most the table (plus rows the writer inserted) and one chunk re-read.
    const reads = events.filter((message) => message.event.op === 'r').length;
    expect(reads).toBeLessThanOrEqual(ROWS + 2 * CHUNK);
  }, 400_000);
});
