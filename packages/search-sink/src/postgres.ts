import type { RowImage } from '@cdc-cache/core';
import pg from 'pg';
import type { ColumnType } from './mappings.js';

/**
 * What the sink reads from the source database, and nothing more: column types (for default
 * mappings), the current value of unchanged TOAST columns, and the re-snapshot requests of the
 * cdc-worker (`cdc_cache.snapshots`). The sink never imports the source package; the service
 * hands in what comes from it (value conversion, `requestSnapshot`).
 */
export interface RowSource {
  /** Column types of schema.table; an empty map when the table is unknown. */
  columnTypes(table: string): Promise<Map<string, ColumnType>>;
  /** The current values of some columns of one row (by primary key); null when the row is gone. */
  readColumns(table: string, key: RowImage, columns: string[]): Promise<RowImage | null>;
}

export type SnapshotStatus = 'requested' | 'running' | 'done' | 'missing';

export interface SnapshotRequest {
  id: number;
  table: string;
  status: SnapshotStatus;
  /** The table was snapshotted before (this is not the first, initial snapshot). */
  again: boolean;
}

export interface SnapshotRequests {
  /**
   * Snapshot requests of these tables (schema.table) that are not done yet or newer than
   * `afterId` (a snapshot can be requested and done between two looks), oldest first.
   */
  requests(tables: string[], afterId: number): Promise<SnapshotRequest[]>;
  /** The newest request id of any table (0 when none). */
  latestId(): Promise<number>;
  status(id: number): Promise<SnapshotStatus>;
  /** Asks the cdc-worker to snapshot the table again; returns the request id. */
  request(table: string): Promise<number>;
  /** The source's current WAL position (pg's text LSN). */
  currentLsn(): Promise<string>;
}

export class RowSourceError extends Error {
  readonly code = 'SOURCE_READ_FAILED';
  constructor(
    message: string,
    /** The database did not answer (retry); false: the query itself is wrong (give up). */
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'RowSourceError';
  }
}

/** A pool on the source database that returns every value as pg's text output. */
export function createSourcePool(
  connectionString: string,
  applicationName = 'cdc-cache search-indexer',
): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: 3,
    application_name: applicationName,
    connectionTimeoutMillis: 10_000,
    types: { getTypeParser: () => (value: string) => value },
  });
  pool.on('error', () => undefined);
  return pool;
}

/** Quotes an identifier for SQL. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function splitTable(table: string): { schema: string; name: string } {
  const dot = table.indexOf('.');
  return { schema: table.slice(0, dot), name: table.slice(dot + 1) };
}

function toText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** A pg error as a RowSourceError: connection problems are transient, SQL errors are not. */
export function sourceError(error: unknown, what: string): RowSourceError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
  const transient =
    sqlState === null || sqlState.startsWith('08') || sqlState.startsWith('57') || sqlState === '53300';
  return new RowSourceError(`${what}: ${message}`, transient);
}

export class PostgresRowSource implements RowSource {
  constructor(
    private readonly pool: pg.Pool,
    /** pg's text output of a value of this type as the events carry it (core's convertValue). */
    private readonly convert: (text: string, typeOid: number) => unknown,
  ) {}

  async columnTypes(table: string): Promise<Map<string, ColumnType>> {
    const { schema, name } = splitTable(table);
    let result: pg.QueryResult<{ column: string; type: string; category: string }>;
    try {
      result = await this.pool.query(
        `SELECT a.attname AS column, coalesce(base.typname, t.typname) AS type,
                coalesce(base.typcategory, t.typcategory) AS category
           FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_type t ON t.oid = a.atttypid
           LEFT JOIN pg_type base ON t.typtype = 'd' AND base.oid = t.typbasetype
          WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
        [schema, name],
      );
    } catch (error) {
      throw sourceError(error, `reading the column types of ${table}`);
    }
    return new Map(result.rows.map((row) => [row.column, { name: row.type, category: row.category }]));
  }

  async readColumns(table: string, key: RowImage, columns: string[]): Promise<RowImage | null> {
    const { schema, name } = splitTable(table);
    const keyColumns = Object.keys(key);
    const text = `SELECT ${columns.map(quoteIdent).join(', ')} FROM ${quoteIdent(schema)}.${quoteIdent(name)} WHERE ${keyColumns
      .map((column, index) => `${quoteIdent(column)} = $${index + 1}`)
      .join(' AND ')}`;
    let result: pg.QueryResult<unknown[]>;
    try {
      result = await this.pool.query<unknown[]>({
        text,
        values: keyColumns.map((column) => toText(key[column])),
        rowMode: 'array',
      });
    } catch (error) {
      throw sourceError(error, `re-reading ${columns.join(', ')} of ${table}`);
    }
    const values = result.rows[0];
    if (values === undefined) return null;
    const row: RowImage = {};
    result.fields.forEach((field, index) => {
      const value = values[index];
      row[field.name] =
        value === null || value === undefined ? null : this.convert(String(value), field.dataTypeID);
    });
    return row;
  }
}

export class PostgresSnapshotRequests implements SnapshotRequests {
  constructor(
    private readonly pool: pg.Pool,
    private readonly slot: string,
    /** pg-source's requestSnapshot. */
    private readonly requestSnapshot: (db: pg.Pool, slot: string, table: string) => Promise<number>,
  ) {}

  async requests(tables: string[], afterId: number): Promise<SnapshotRequest[]> {
    try {
      const { rows } = await this.pool.query<{
        id: string;
        table_name: string;
        status: SnapshotStatus;
        again: string;
      }>(
        `SELECT id, table_name, status,
                EXISTS (SELECT 1 FROM cdc_cache.snapshots p
                         WHERE p.slot = s.slot AND p.table_name = s.table_name AND p.id < s.id) AS again
           FROM cdc_cache.snapshots s
          WHERE slot = $1 AND table_name = ANY($2) AND (id > $3 OR status <> 'done') ORDER BY id`,
        [this.slot, tables, afterId],
      );
      return rows.map((row) => ({
        id: Number(row.id),
        table: row.table_name,
        status: row.status,
        again: row.again === 't' || (row.again as unknown) === true,
      }));
    } catch (error) {
      // No cdc-worker has run against this database yet: nothing was requested.
      if (isMissingRelation(error)) return [];
      throw sourceError(error, 'reading snapshot requests');
    }
  }

  async latestId(): Promise<number> {
    try {
      const { rows } = await this.pool.query<{ id: string | null }>(
        'SELECT max(id)::text AS id FROM cdc_cache.snapshots WHERE slot = $1',
        [this.slot],
      );
      return Number(rows[0]?.id ?? 0);
    } catch (error) {
      if (isMissingRelation(error)) return 0;
      throw sourceError(error, 'reading snapshot requests');
    }
  }

  async status(id: number): Promise<SnapshotStatus> {
    try {
      const { rows } = await this.pool.query<{ status: SnapshotStatus }>(
        'SELECT status FROM cdc_cache.snapshots WHERE id = $1',
        [id],
      );
      return rows[0]?.status ?? 'missing';
    } catch (error) {
      if (isMissingRelation(error)) return 'missing';
      throw sourceError(error, `reading snapshot request ${id}`);
    }
  }

  async request(table: string): Promise<number> {
    try {
      return await this.requestSnapshot(this.pool, this.slot, table);
    } catch (error) {
      throw sourceError(error, `requesting a snapshot of ${table}`);
    }
  }

  async currentLsn(): Promise<string> {
    try {
      const { rows } = await this.pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      return rows[0]!.lsn;
    } catch (error) {
      throw sourceError(error, 'reading the current WAL position');
    }
  }
}

function isMissingRelation(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '42P01' || code === '3F000';
}
