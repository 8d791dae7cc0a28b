/**
 * The workloads: tables, seed data and pgbench scripts (bench/workloads/*.sql; TPC-B is
 * pgbench's built-in tpcb-like script). pgbench is the load generator: a C client that paces
 * transactions (-R, Poisson arrivals) and draws every random number from --random-seed, so a
 * run is repeatable and the generator costs little CPU on a 2-core box.
 *
 * Every workload lives in a schema (search_path picks it): `bench` for the backlog that both
 * systems drain, `live_cdc` and `live_dbz` for the live runs of each system (same tables, same
 * script, same seed; separate tables so that one system's live run is not a backlog for the
 * other), `snap` for the snapshot table.
 */
import path from 'node:path';
import type pg from 'pg';
import { progress, sleep } from './lib/log.js';
import { runOk } from './lib/proc.js';
import { WORKLOADS_DIR } from './paths.js';

export type WorkloadName = 'update' | 'mixed' | 'large' | 'tpcb' | 'burst';

/** Which tables each workload writes (the burst load is the update script in bursts). */
export const WORKLOAD_TABLES: Record<WorkloadName, string[]> = {
  update: ['counters'],
  mixed: ['users', 'orders', 'order_lines'],
  large: ['documents'],
  tpcb: ['pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', 'pgbench_history'],
  burst: ['counters'],
};

export const ALL_TABLES = [...new Set(Object.values(WORKLOAD_TABLES).flat())];

export const WORKLOAD_TITLES: Record<WorkloadName, string> = {
  update: 'single-table update',
  mixed: 'mixed insert/update/delete, 3 tables',
  large: 'large rows (2 KB, TOASTed body)',
  tpcb: 'pgbench TPC-B (tpcb-like)',
  burst: 'bursty updates',
};

export interface SeedSizes {
  counters: number;
  users: number;
  orders: number;
  documents: number;
  /** pgbench scale factor: 100,000 accounts, 10 tellers and 1 branch per unit. */
  tpcbScale: number;
}

export interface PgTarget {
  host: string;
  port: number;
  user: string;
  database: string;
}

export function pgUrl(target: PgTarget): string {
  return `postgres://${target.user}@${target.host}:${target.port}/${target.database}`;
}

/** Creates the workload tables in `schema` and seeds them (deterministic content). */
export async function createWorkloadSchema(
  db: pg.Client,
  target: PgTarget,
  pgbench: string,
  schema: string,
  sizes: SeedSizes,
): Promise<void> {
  await db.query(`CREATE SCHEMA ${schema}`);
  await db.query(`SET search_path = ${schema}`);
  await db.query(`
    CREATE TABLE counters (id int PRIMARY KEY, hits bigint NOT NULL DEFAULT 0, val int NOT NULL DEFAULT 0,
      label text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO counters (id, label) SELECT g, 'counter ' || g FROM generate_series(1, ${sizes.counters}) g;

    CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL, name text NOT NULL,
      balance numeric(12,2) NOT NULL DEFAULT 1000, updated_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO users (email, name) SELECT 'user' || g || '@example.com', 'user ' || g FROM generate_series(1, ${sizes.users}) g;
    CREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL, status text NOT NULL,
      total numeric(12,2) NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO orders (user_id, status, total) SELECT 1 + g % ${sizes.users}, 'new', (g % 100) + 0.5 FROM generate_series(1, ${sizes.orders}) g;
    CREATE TABLE order_lines (id bigserial PRIMARY KEY, order_id bigint NOT NULL, sku text NOT NULL,
      qty int NOT NULL, price numeric(10,2) NOT NULL);
    CREATE INDEX ON order_lines (order_id);
    INSERT INTO order_lines (order_id, sku, qty, price)
      SELECT 1 + g / 2, 'SKU-' || g, 1 + g % 5, 9.99 FROM generate_series(0, ${sizes.orders * 2 - 1}) g;

    CREATE TABLE documents (id int PRIMARY KEY, version int NOT NULL DEFAULT 1, title text NOT NULL, body text NOT NULL);
    ALTER TABLE documents ALTER COLUMN body SET STORAGE EXTERNAL;
    INSERT INTO documents (id, title, body) SELECT g, 'doc ' || g, repeat(md5(g::text), 64) FROM generate_series(1, ${sizes.documents}) g;
  `);
  // pgbench's own TPC-B tables (server-side generated, with primary keys), plus a key for
  // pgbench_history, which has none (a CDC topic is keyed by the primary key).
  await runOk(
    pgbench,
    ['-i', '-q', '-I', 'dtGp', '-s', String(sizes.tpcbScale), ...pgbenchConnArgs(target)],
    { env: { ...process.env, PGOPTIONS: `-c search_path=${schema}` }, timeoutMs: 600_000 },
  );
  await db.query('ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY');
  await db.query(`ANALYZE`);
  await db.query('RESET search_path');
}

/**
 * The warm-up schema: a copy of `counters` whose updates open the backlog. Each system drains
 * them first (JIT compilation, connection pools, producer metadata) and they are left out of
 * every figure.
 */
export const WARMUP_SCHEMA = 'warm';

export async function createWarmupSchema(db: pg.Client, rows: number): Promise<void> {
  await db.query(`CREATE SCHEMA ${WARMUP_SCHEMA}`);
  await db.query(`
    CREATE TABLE ${WARMUP_SCHEMA}.counters (id int PRIMARY KEY, hits bigint NOT NULL DEFAULT 0, val int NOT NULL DEFAULT 0,
      label text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO ${WARMUP_SCHEMA}.counters (id, label) SELECT g, 'counter ' || g FROM generate_series(1, ${rows}) g;
  `);
}

/** The snapshot table: `rows` accounts-like rows of about 120 bytes. */
export async function createSnapshotTable(db: pg.Client, rows: number): Promise<void> {
  await db.query('CREATE SCHEMA snap');
  await db.query(`
    CREATE TABLE snap.accounts (id bigint PRIMARY KEY, owner text NOT NULL, email text NOT NULL,
      balance numeric(12,2) NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL);
    INSERT INTO snap.accounts
      SELECT g, 'owner ' || g, 'owner' || g || '@example.com', (g % 100000) / 100.0,
             CASE WHEN g % 7 = 0 THEN 'closed' ELSE 'open' END, timestamptz '2026-01-01' + g * interval '1 second'
      FROM generate_series(1, ${rows}) g;
    ANALYZE snap.accounts;
  `);
}

export function pgbenchConnArgs(target: PgTarget): string[] {
  return ['-h', target.host, '-p', String(target.port), '-U', target.user, target.database];
}

export interface PgbenchRun {
  workload: WorkloadName;
  schema: string;
  /** Transactions per client (-t), or a duration (-T) in seconds. */
  transactionsPerClient?: number;
  seconds?: number;
  /** Offered transactions per second (-R); absent = as fast as possible. */
  rate?: number;
  clients: number;
  seed: number;
  /** synchronous_commit for the load (off only for building a backlog). */
  synchronousCommit: boolean;
  sizes: SeedSizes;
}

export interface PgbenchResult {
  transactions: number;
  seconds: number;
  tps: number;
  command: string;
}

function scriptArgs(workload: WorkloadName, sizes: SeedSizes): string[] {
  switch (workload) {
    case 'update':
    case 'burst':
      return ['-f', path.join(WORKLOADS_DIR, 'update.sql'), '-D', `rows=${sizes.counters}`];
    case 'mixed':
      return [
        '-f',
        path.join(WORKLOADS_DIR, 'mixed.sql'),
        '-D',
        `users=${sizes.users}`,
        '-D',
        `orders=${sizes.orders}`,
      ];
    case 'large':
      return ['-f', path.join(WORKLOADS_DIR, 'large.sql'), '-D', `rows=${sizes.documents}`];
    case 'tpcb':
      return ['-b', 'tpcb-like'];
  }
}

export async function runPgbench(
  pgbench: string,
  target: PgTarget,
  spec: PgbenchRun,
): Promise<PgbenchResult> {
  const args = [
    '-n',
    '-M',
    'prepared',
    '-c',
    String(spec.clients),
    '-j',
    String(Math.min(2, spec.clients)),
    `--random-seed=${spec.seed}`,
    ...scriptArgs(spec.workload, spec.sizes),
    ...(spec.transactionsPerClient !== undefined ? ['-t', String(spec.transactionsPerClient)] : []),
    ...(spec.seconds !== undefined ? ['-T', String(spec.seconds)] : []),
    ...(spec.rate !== undefined ? ['-R', String(spec.rate)] : []),
    ...pgbenchConnArgs(target),
  ];
  const options = `-c search_path=${spec.schema} -c synchronous_commit=${spec.synchronousCommit ? 'on' : 'off'}`;
  const started = performance.now();
  const result = await runOk(pgbench, args, {
    env: { ...process.env, PGOPTIONS: options, PGAPPNAME: 'bench-pgbench' },
    timeoutMs: 900_000,
  });
  const seconds = (performance.now() - started) / 1000;
  const transactions = Number(
    /number of transactions actually processed: (\d+)/.exec(result.stdout)?.[1] ?? 0,
  );
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(result.stdout)?.[1] ?? 0);
  return { transactions, seconds, tps, command: `PGOPTIONS='${options}' pgbench ${args.join(' ')}` };
}

/**
 * Row changes committed to the tables of a schema so far (inserted + updated + deleted rows,
 * from the statistics collector). The difference across a load is the number of change
 * events it must produce. Waits until the load's backends have gone (they flush their
 * counters on exit) and two readings agree.
 */
export async function committedChanges(db: pg.Client, schema: string): Promise<Map<string, number>> {
  const read = async () => {
    const { rows } = await db.query<{ relname: string; changes: string }>(
      `SELECT relname, (n_tup_ins + n_tup_upd + n_tup_del)::text AS changes FROM pg_stat_user_tables WHERE schemaname = $1`,
      [schema],
    );
    return new Map(rows.map((r) => [r.relname, Number(r.changes)]));
  };
  for (let i = 0; i < 100; i++) {
    const { rows } = await db.query(
      `SELECT 1 FROM pg_stat_activity WHERE application_name = 'bench-pgbench' AND datname = current_database()`,
    );
    if (rows.length === 0) break;
    await sleep(50);
  }
  let previous = await read();
  for (let i = 0; i < 40; i++) {
    await sleep(150);
    const current = await read();
    if ([...current].every(([table, n]) => previous.get(table) === n)) return current;
    previous = current;
  }
  progress(`warning: the statistics of schema ${schema} did not settle; counts may be off`);
  return previous;
}

export function changesBetween(
  before: Map<string, number>,
  after: Map<string, number>,
  tables: string[],
): Record<string, number> {
  return Object.fromEntries(tables.map((t) => [t, (after.get(t) ?? 0) - (before.get(t) ?? 0)]));
}
