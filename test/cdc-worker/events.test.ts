import { freshSlate, type ServiceProcess, type Slate } from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvents, startWorker, stopWorker, waitStreaming, workerConfig } from './worker-harness.js';

let slate: Slate;
let worker: ServiceProcess | undefined;
let topic: string;

beforeAll(async () => {
  slate = await freshSlate('worker_events');
  topic = `${slate.topicPrefix}.public.users`;
  await slate.db.query(
    'CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, bio text, score numeric)',
  );
  // Stored out of line (TOAST): large and incompressible.
  await slate.db.query(`ALTER TABLE users ALTER COLUMN bio SET STORAGE EXTERNAL`);
  await slate.db.query(`INSERT INTO users VALUES (1, 'before@example.com', 'short', 1.5)`);
  worker = await startWorker(workerConfig(slate, ['public.users']));
  await waitStreaming(worker);
  // Writes below must not race the initial snapshot of row 1.
  await worker.waitForLog((line) => line.msg === 'snapshot done' && line.table === 'public.users');
});

afterAll(async () => {
  await stopWorker(worker);
  await slate?.dispose();
});

describe('cdc-worker events', () => {
  it('delivers every op (r, c, u, d, t) with the documented fields, in commit order per key', async () => {
    const bigBio =
      'x'.repeat(10) + Array.from({ length: 40_000 }, (_, i) => ((i * 7919) % 997).toString(36)).join('');
    await slate.db.query(`INSERT INTO users VALUES (2, 'two@example.com', $1, 12345678901234567890.123)`, [
      bigBio,
    ]);
    await slate.db.query(`UPDATE users SET email = 'changed@example.com' WHERE id = 2`);
    await slate.db.query(`DELETE FROM users WHERE id = 1`);
    await slate.db.query('TRUNCATE users');

    // The truncate reaches every partition (3): wait until each has one.
    const events = await readEvents(
      [topic],
      (events) => events.filter((e) => e.event.op === 't').length >= 3,
    );
    const byOp = (op: string) =>
      events.filter((message) => message.event.op === op).map((message) => message.event);

    const [read] = byOp('r');
    expect(read).toMatchObject({
      op: 'r',
      source: { db: slate.database, schema: 'public', table: 'users', txId: null, seq: 0 },
      key: { id: '1' },
      before: null,
      after: { id: '1', email: 'before@example.com', bio: 'short', score: '1.5' },
      unchangedToast: [],
    });

    const [insert] = byOp('c');
    expect(insert!.key).toEqual({ id: '2' });
    // numeric stays a string: no precision loss.
    expect(insert!.after).toMatchObject({
      id: '2',
      email: 'two@example.com',
      score: '12345678901234567890.123',
    });
    expect(insert!.after!.bio).toBe(bigBio);
    expect(insert!.source).toMatchObject({ seq: 0 });
    expect(typeof insert!.source.txId).toBe('number');
    expect(insert!.source.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(insert!.source.commitLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(Date.parse(insert!.source.commitTime)).toBeGreaterThan(Date.now() - 120_000);

    const [update] = byOp('u');
    expect(update!.after).toEqual({
      id: '2',
      email: 'changed@example.com',
      score: '12345678901234567890.123',
    });
    // The TOASTed bio did not change: it is listed, never null.
    expect(update!.unchangedToast).toEqual(['bio']);
    expect(update!.after).not.toHaveProperty('bio');

    const [del] = byOp('d');
    expect(del).toMatchObject({ op: 'd', key: { id: '1' }, before: { id: '1' }, after: null });

    const truncates = byOp('t');
    expect(truncates).toHaveLength(3);
    expect(new Set(events.filter((m) => m.event.op === 't').map((m) => m.partition))).toEqual(
      new Set([0, 1, 2]),
    );
    expect(truncates[0]).toMatchObject({ key: null, before: null, after: null, source: { table: 'users' } });

    // Per key, in commit order: row 2's insert before its update, in one partition.
    const row2 = events.filter((message) => message.event.key?.id === '2');
    expect(row2.map((message) => message.event.op)).toEqual(['c', 'u']);
    expect(new Set(row2.map((message) => message.partition)).size).toBe(1);
    expect(row2.every((message) => message.key === '{"id":"2"}')).toBe(true);
  });

  it('follows columns added and dropped while streaming, without a restart', async () => {
    await slate.db.query('ALTER TABLE users ADD COLUMN nickname text');
    await slate.db.query(`INSERT INTO users (id, email, nickname) VALUES (10, 'ten@example.com', 'tenny')`);
    await slate.db.query('ALTER TABLE users DROP COLUMN score');
    await slate.db.query(`INSERT INTO users (id, email, nickname) VALUES (11, 'eleven@example.com', 'elf')`);
    // Rows 10 and 11 may sit in different partitions: wait for both.
    const events = await readEvents(
      [topic],
      (events) =>
        events.some((e) => e.event.key?.id === '10') && events.some((e) => e.event.key?.id === '11'),
    );
    const ten = events.find((message) => message.event.key?.id === '10')!.event;
    const eleven = events.find((message) => message.event.key?.id === '11')!.event;
    expect(ten.after).toEqual({
      id: '10',
      email: 'ten@example.com',
      bio: null,
      score: null,
      nickname: 'tenny',
    });
    expect(eleven.after).toEqual({ id: '11', email: 'eleven@example.com', bio: null, nickname: 'elf' });
    expect(worker!.child.exitCode).toBeNull();
  });
});
