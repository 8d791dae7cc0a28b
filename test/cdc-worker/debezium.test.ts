import { freshSlate, readTopics, type ServiceProcess, type Slate } from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, stopWorker, waitStreaming, workerConfig } from './worker-harness.js';

let slate: Slate;
let worker: ServiceProcess | undefined;

beforeAll(async () => {
  slate = await freshSlate('worker_debezium');
  await slate.db.query('CREATE TABLE customers (id int PRIMARY KEY, first_name text, email text)');
  await slate.db.query('ALTER TABLE customers REPLICA IDENTITY FULL');
  worker = await startWorker(
    workerConfig(slate, ['public.customers'], {
      envelope: 'debezium',
      types: 'parsed',
      postgres: { snapshot: { mode: 'never' } },
    }),
  );
  await waitStreaming(worker);
});

afterAll(async () => {
  await stopWorker(worker);
  await slate?.dispose();
});

describe('envelope: debezium', () => {
  it("writes Debezium's PostgreSQL envelope: create, update, delete and its tombstone", async () => {
    await slate.db.query(`INSERT INTO customers VALUES (1004, 'Anne', 'annek@noanswer.org')`);
    await slate.db.query(`UPDATE customers SET first_name = 'Anne Marie' WHERE id = 1004`);
    await slate.db.query('DELETE FROM customers WHERE id = 1004');
    const topic = `${slate.topicPrefix}.public.customers`;
    const messages = await readTopics(
      [topic],
      (messages) => messages.filter((m) => m.key?.includes('1004')).length >= 4,
    );
    const forRow = messages.filter((message) => message.key?.includes('1004'));
    // Debezium's key: the primary key columns as JSON.
    expect(JSON.parse(forRow[0]!.key!)).toEqual({ id: 1004 });
    const values = forRow.map((message) => (message.value === null ? null : JSON.parse(message.value)));
    expect(values.map((value) => value?.op ?? null)).toEqual(['c', 'u', 'd', null]);
    const [create, update, del] = values;
    expect(create).toMatchObject({
      before: null,
      after: { id: 1004, first_name: 'Anne', email: 'annek@noanswer.org' },
      source: {
        connector: 'postgresql',
        db: slate.database,
        schema: 'public',
        table: 'customers',
        snapshot: 'false',
      },
      op: 'c',
    });
    expect(typeof create.ts_ms).toBe('number');
    expect(typeof create.source.lsn).toBe('number');
    expect(typeof create.source.txId).toBe('number');
    expect(update).toMatchObject({
      before: { id: 1004, first_name: 'Anne' },
      after: { id: 1004, first_name: 'Anne Marie' },
      op: 'u',
    });
    expect(del).toMatchObject({ before: { id: 1004, first_name: 'Anne Marie' }, after: null, op: 'd' });
    expect(update.source.lsn).toBeGreaterThan(create.source.lsn);
  });
});
