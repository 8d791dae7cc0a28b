import { freshSlate, type Slate, stackAddresses } from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, stopWorker, waitStreaming, workerConfig } from './worker-harness.js';

let slate: Slate;

beforeAll(async () => {
  slate = await freshSlate('worker_bad');
  await slate.db.query('CREATE TABLE users (id int PRIMARY KEY, email text)');
  await slate.db.query('CREATE TABLE nokey (a int, b int)');
});

afterAll(async () => {
  await slate?.dispose();
});

async function failureLine(config: object): Promise<string> {
  const worker = await startWorker(config);
  const code = await worker.exited;
  expect(code).not.toBe(0);
  const errors = worker.logs.filter((line) => line.level === 'error' || line.level === 'fatal');
  return String(errors.at(-1)?.msg ?? worker.text.at(-1));
}

describe('cdc-worker bad input', () => {
  it('names a table that does not exist, and says what to do', async () => {
    const line = await failureLine(workerConfig(slate, ['public.users', 'public.missing']));
    expect(line).toBe(
      `source.postgres.tables: table public.missing does not exist in database ${slate.database}; create it or remove it from the config`,
    );
  });

  it('refuses a table without a primary key with the ALTER TABLE that fixes it', async () => {
    const line = await failureLine(workerConfig(slate, ['public.nokey']));
    expect(line).toMatch(
      /^public\.nokey has no primary key: add one \(ALTER TABLE public\.nokey ADD PRIMARY KEY/,
    );
  });

  it('says which REPLICA IDENTITY a rule on a secondary key needs', async () => {
    const line = await failureLine(
      workerConfig(slate, ['public.users'], {
        stores: { redis: { url: stackAddresses.redis.url } },
        rules: [
          { table: 'public.users', keys: [{ key: 'user:email:{email}', store: 'redis', action: 'evict' }] },
        ],
      }),
    );
    expect(line).toBe(
      'public.users: updates and deletes need the old value of email but REPLICA IDENTITY is DEFAULT (old values sent: id); run: ALTER TABLE "public"."users" REPLICA IDENTITY FULL;',
    );
  });

  it('says which statement to run when the user may not create the publication', async () => {
    const role = `${slate.id}_low`;
    await slate.db.query(`CREATE ROLE ${role} LOGIN REPLICATION`);
    try {
      const url = new URL(slate.pgUrl);
      url.username = role;
      const config = workerConfig(slate, ['public.users']);
      (config.source.postgres as { url: string }).url = url.toString();
      const line = await failureLine(config);
      expect(line).toMatch(
        new RegExp(
          `^source\\.postgres: the user may not create or alter publication "${slate.slotName}" \\(.*\\); as a superuser run: CREATE PUBLICATION "${slate.slotName}" FOR TABLE "public"\\."users";`,
        ),
      );
    } finally {
      await slate.db.query(`DROP ROLE ${role}`);
    }
  });

  it('retries with a clear line while Kafka is unreachable', async () => {
    const config = workerConfig(slate, ['public.users'], { postgres: { snapshot: { mode: 'never' } } });
    (config.kafka as { brokers: string[] }).brokers = ['127.0.0.1:1'];
    const worker = await startWorker(config);
    try {
      const line = await worker.waitForLog(
        (entry) => entry.level === 'error' && /Kafka/.test(String(entry.msg)),
        60_000,
      );
      expect(String(line.msg)).toMatch(/Kafka at 127\.0\.0\.1:1 is unreachable/);
      expect(worker.child.exitCode).toBeNull();
    } finally {
      await stopWorker(worker);
    }
  });

  it('refuses to share its slot with another reader', async () => {
    await slate.db.query(`SELECT pg_create_logical_replication_slot('${slate.slotName}_held', 'pgoutput')`);
    const holder = new (await import('pg')).default.Client({
      connectionString: slate.pgUrl,
      replication: 'database',
    } as object);
    await holder.connect();
    holder
      .query(
        `START_REPLICATION SLOT ${slate.slotName}_held LOGICAL 0/0 (proto_version '1', publication_names 'x')`,
      )
      .catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 500));
    try {
      const config = workerConfig(slate, ['public.users'], { postgres: { slot: `${slate.slotName}_held` } });
      const line = await failureLine(config);
      expect(line).toMatch(
        new RegExp(
          `^source\\.postgres\\.slot: slot "${slate.slotName}_held" is in use by another process \\(pid \\d+\\)`,
        ),
      );
    } finally {
      await holder.end().catch(() => undefined);
    }
  });

  it('starts again cleanly after the errors are fixed', async () => {
    const worker = await startWorker(workerConfig(slate, ['public.users']));
    try {
      await waitStreaming(worker);
    } finally {
      await stopWorker(worker);
    }
  });
});
