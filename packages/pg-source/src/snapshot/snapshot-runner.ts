import { randomUUID } from 'node:crypto';
import { convertValue, type RowImage, type ValueMode } from '@cdc-cache/core';
import pg from 'pg';

import { quoteIdent } from '../replication-stream.js';
import type { TableDescription } from '../source-setup.js';
import { WATERMARK_PREFIX, type Watermark, type WatermarkCoordinator } from './watermarks.js';

/** Where snapshot requests and progress live: a table in the source database. */
const SCHEMA = 'cdc_cache';

export interface SnapshotProgress {
  table: string;
  rowsDone: number;
  /** Rows emitted by the chunk just finished. */
  rowsInChunk: number;
  rowsEstimated: number;
  rowsPerSecond: number;
  done: boolean;
}

export interface SnapshotRunnerOptions {
  connectionString: string;
  slot: string;
  database: string;
  tables: TableDescription[];
  coordinator: WatermarkCoordinator;
  valueMode: ValueMode;
  chunkSize?: number;
  pollMs?: number;
  onProgress?: (progress: SnapshotProgress) => void;
  onError?: (error: Error, table: string) => void;
}

/** Creates the progress table if needed. Idempotent. */
export async function ensureSnapshotTable(db: pg.ClientBase | pg.Pool): Promise<void> {
  await db.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
  await db.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.snapshots (
    id bigserial PRIMARY KEY,
    slot text NOT NULL,
    table_name text NOT NULL,
    status text NOT NULL CHECK (status IN ('requested', 'running', 'done')),
    last_key jsonb,
    rows_done bigint NOT NULL DEFAULT 0,
    rows_estimated bigint,
    requested_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz
  )`);
}

/** Asks the worker of this slot to snapshot a table (again); it starts within a poll interval. */
export async function requestSnapshot(
  db: pg.ClientBase | pg.Pool,
  slot: string,
  table: string,
): Promise<number> {
  await ensureSnapshotTable(db);
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO ${SCHEMA}.snapshots (slot, table_name, status) VALUES ($1, $2, 'requested') RETURNING id`,
    [slot, table],
  );
  return Number(rows[0]!.id);
}

/** Requests a first snapshot of every table that never had one for this slot. */
export async function requestInitialSnapshots(
  db: pg.ClientBase | pg.Pool,
  slot: string,
  tables: string[],
): Promise<string[]> {
  await ensureSnapshotTable(db);
  const requested: string[] = [];
  for (const table of tables) {
    const { rowCount } = await db.query(
      `INSERT INTO ${SCHEMA}.snapshots (slot, table_name, status)
       SELECT $1, $2, 'requested' WHERE NOT EXISTS (SELECT 1 FROM ${SCHEMA}.snapshots WHERE slot = $1 AND table_name = $2)`,
      [slot, table],
    );
    if (rowCount === 1) requested.push(table);
  }
  return requested;
}

/**
 * Runs requested snapshots one chunk at a time, in key order, through the watermark
 * coordinator. Progress (the last key done) is saved only after a chunk is durable in
 * Kafka, so a crash resumes at the next chunk instead of starting over.
 */
export class SnapshotRunner {
  private stopped = false;
  private readonly db: pg.Pool;
  private wake: (() => void) | null = null;

  constructor(private readonly options: SnapshotRunnerOptions) {
    // Raw text for every type: the same text pgoutput sends, converted the same way.
    this.db = new pg.Pool({
      connectionString: options.connectionString,
      max: 2,
      application_name: 'cdc-cache snapshot',
      types: { getTypeParser: () => (value: string) => value },
    });
    this.db.on('error', () => undefined);
  }

  async run(): Promise<void> {
    await ensureSnapshotTable(this.db);
    while (!this.stopped) {
      const next = await this.nextRequest();
      if (!next) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, this.options.pollMs ?? 1_000);
        });
        continue;
      }
      const table = this.options.tables.find((candidate) => candidate.name === next.table);
      if (!table) {
        await this.db.query(
          `UPDATE ${SCHEMA}.snapshots SET status = 'done', finished_at = now() WHERE id = $1`,
          [next.id],
        );
        continue;
      }
      try {
        await this.snapshotTable(next.id, table, next.lastKey, next.rowsDone);
      } catch (error) {
        if (this.stopped) return;
        this.options.onError?.(error as Error, table.name);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.db.end().catch(() => undefined);
  }

  private async nextRequest(): Promise<{
    id: number;
    table: string;
    lastKey: RowImage | null;
    rowsDone: number;
  } | null> {
    const { rows } = await this.db.query<{
      id: string;
      table_name: string;
      last_key: string | null;
      rows_done: string;
    }>(
      `SELECT id, table_name, last_key::text, rows_done FROM ${SCHEMA}.snapshots
        WHERE slot = $1 AND status IN ('requested', 'running') ORDER BY id LIMIT 1`,
      [this.options.slot],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      id: Number(row.id),
      table: row.table_name,
      lastKey: row.last_key ? (JSON.parse(row.last_key) as RowImage) : null,
      rowsDone: Number(row.rows_done),
    };
  }

  private async snapshotTable(
    id: number,
    table: TableDescription,
    resumeAfter: RowImage | null,
    rowsDoneBefore: number,
  ) {
    const estimate = await this.db.query<{ estimate: string }>(
      'SELECT greatest(reltuples, 0)::bigint::text AS estimate FROM pg_class WHERE oid = $1',
      [table.oid],
    );
    const rowsEstimated = Number(estimate.rows[0]?.estimate ?? 0);
    await this.db.query(
      `UPDATE ${SCHEMA}.snapshots SET status = 'running', started_at = coalesce(started_at, now()), rows_estimated = $2 WHERE id = $1`,
      [id, rowsEstimated],
    );
    const chunkSize = this.options.chunkSize ?? 2_000;
    const started = Date.now();
    let rowsDone = rowsDoneBefore;
    let lastKey = resumeAfter;
    while (!this.stopped) {
      const chunkId = randomUUID();
      const lowSeen = this.options.coordinator.waitForLow(chunkId);
      await this.emitWatermark({ chunk: chunkId, mark: 'low', schema: table.schema, table: table.table });
      await lowSeen;
      const rows = await this.readChunk(table, lastKey, chunkSize);
      const durable = this.options.coordinator.registerChunk({
        id: chunkId,
        schema: table.schema,
        table: table.table,
        database: this.options.database,
        keyColumns: table.keyColumns,
        rows,
      });
      await this.emitWatermark({ chunk: chunkId, mark: 'high', schema: table.schema, table: table.table });
      await durable;
      rowsDone += rows.length;
      const last = rows.at(-1);
      if (last) {
        lastKey = {};
        for (const column of table.keyColumns) lastKey[column] = last[column];
      }
      const done = rows.length < chunkSize;
      await this.db.query(
        `UPDATE ${SCHEMA}.snapshots SET last_key = $2, rows_done = $3, status = $4,
           finished_at = CASE WHEN $4 = 'done' THEN now() END WHERE id = $1`,
        [id, lastKey === null ? null : JSON.stringify(lastKey), rowsDone, done ? 'done' : 'running'],
      );
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      this.options.onProgress?.({
        table: table.name,
        rowsDone,
        rowsInChunk: rows.length,
        rowsEstimated: Math.max(rowsEstimated, rowsDone),
        rowsPerSecond: Math.round((rowsDone - rowsDoneBefore) / seconds),
        done,
      });
      if (done) return;
    }
  }

  private async emitWatermark(watermark: Watermark): Promise<void> {
    // Non-transactional: it enters the stream at once, at its own WAL position.
    await this.db.query('SELECT pg_logical_emit_message(false, $1, $2)', [
      WATERMARK_PREFIX,
      JSON.stringify(watermark),
    ]);
  }

  private async readChunk(
    table: TableDescription,
    after: RowImage | null,
    limit: number,
  ): Promise<RowImage[]> {
    const columns = table.columns.map(quoteIdent).join(', ');
    const keys = table.keyColumns.map(quoteIdent);
    const from = `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`;
    const order = keys.join(', ');
    // Row comparison walks the key index in order: each chunk starts where the last ended.
    const where = after
      ? `WHERE (${order}) > (${table.keyColumns.map((_, index) => `$${index + 1}`).join(', ')})`
      : '';
    const params = after ? table.keyColumns.map((column) => toText(after[column])) : [];
    const text = `SELECT ${columns} FROM ${from} ${where} ORDER BY ${order} LIMIT ${limit}`;
    const client = await this.db.connect();
    let result: pg.QueryResult<unknown[]>;
    try {
      // A snapshot that misses a transaction whose commit the stream already passed (it
      // committed before the low mark but was not yet visible) would emit a stale row: retry.
      for (let attempt = 0; ; attempt++) {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const snapshot = await client.query<{ xip: string[] | null }>(
          `SELECT array_agg((x::text::numeric % 4294967296)::text) AS xip FROM pg_snapshot_xip(pg_current_snapshot()) AS x`,
        );
        const inProgress = (snapshot.rows[0]?.xip ?? []).map(Number);
        if (!this.options.coordinator.committedBeforeLow(inProgress)) {
          result = await client.query<unknown[]>({ text, values: params, rowMode: 'array' });
          await client.query('COMMIT');
          break;
        }
        await client.query('ROLLBACK');
        if (attempt > 100) throw new Error(`${table.name}: no consistent snapshot after 100 tries`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    return result.rows.map((values: unknown[]) => {
      const row: RowImage = {};
      result.fields.forEach((field, index) => {
        const value = values[index];
        row[field.name] =
          value === null ? null : convertValue(String(value), field.dataTypeID, this.options.valueMode);
      });
      return row;
    });
  }
}

function toText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
