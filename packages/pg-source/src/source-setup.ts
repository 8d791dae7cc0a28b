import type { Queryable } from './queryable.js';
import { quoteIdent, quoteLiteral } from './replication-stream.js';

/** A configuration or permission problem at the source: one line, what, where, what to do. */
export class SourceError extends Error {
  constructor(
    readonly code:
      | 'table_missing'
      | 'no_primary_key'
      | 'replica_identity'
      | 'permission'
      | 'slot_in_use'
      | 'wal_level'
      | 'unreachable',
    message: string,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

export interface TableDescription {
  /** "schema.table" */
  name: string;
  schema: string;
  table: string;
  oid: number;
  columns: string[];
  /** The columns events are keyed by: the primary key, or the configured key columns. */
  keyColumns: string[];
  replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  /** Columns whose old value pgoutput sends on update and delete. */
  identityColumns: string[];
}

/**
 * Looks up each configured table: it must exist and have a primary key (or configured key
 * columns that exist). `keyColumnsByTable` overrides the key for tables without one.
 */
export async function describeTables(
  db: Queryable,
  tables: string[],
  keyColumnsByTable: Record<string, string[]> = {},
): Promise<TableDescription[]> {
  const descriptions: TableDescription[] = [];
  for (const name of tables) {
    const [schema, table] = splitTableName(name);
    const { rows } = await db.query<{ oid: number; relreplident: string }>(
      `SELECT c.oid::int AS oid, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
      [schema, table],
    );
    const found = rows[0];
    if (!found) {
      throw new SourceError(
        'table_missing',
        `source.postgres.tables: table ${name} does not exist in database ${await currentDatabase(db)}; create it or remove it from the config`,
      );
    }
    const columns = await columnNames(db, found.oid);
    const primaryKey = await indexColumns(db, found.oid, 'indisprimary');
    const configured = keyColumnsByTable[name];
    let keyColumns = primaryKey;
    if (configured && configured.length > 0) {
      const missing = configured.filter((column) => !columns.includes(column));
      if (missing.length > 0) {
        throw new SourceError(
          'no_primary_key',
          `source.postgres.keyColumns["${name}"]: column ${missing.join(', ')} does not exist in ${name}; existing: ${columns.join(', ')}`,
        );
      }
      keyColumns = configured;
    }
    if (keyColumns.length === 0) {
      throw new SourceError(
        'no_primary_key',
        `${name} has no primary key: add one (ALTER TABLE ${name} ADD PRIMARY KEY (...)) or name the key columns in source.postgres.keyColumns["${name}"]`,
      );
    }
    const replicaIdentity = ({ d: 'default', n: 'nothing', f: 'full', i: 'index' } as const)[
      found.relreplident as 'd' | 'n' | 'f' | 'i'
    ];
    const identityColumns =
      replicaIdentity === 'full'
        ? columns
        : replicaIdentity === 'index'
          ? await indexColumns(db, found.oid, 'indisreplident')
          : replicaIdentity === 'default'
            ? primaryKey
            : [];
    descriptions.push({
      name,
      schema,
      table,
      oid: found.oid,
      columns,
      keyColumns,
      replicaIdentity,
      identityColumns,
    });
  }
  return descriptions;
}

/**
 * Checks that updates and deletes will carry the old values the rules need: the key columns
 * always (to know which row was deleted), plus every column a rule's key template reads
 * (a delete must evict `user:email:{email}` of the old email). Says which ALTER TABLE fixes it.
 */
export function checkReplicaIdentity(table: TableDescription, neededOldColumns: string[]): void {
  const needed = [...new Set([...table.keyColumns, ...neededOldColumns])];
  const missing = needed.filter((column) => !table.identityColumns.includes(column));
  if (missing.length === 0) return;
  const ident = `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`;
  throw new SourceError(
    'replica_identity',
    `${table.name}: updates and deletes need the old value of ${missing.join(', ')} but REPLICA IDENTITY is ${table.replicaIdentity.toUpperCase()}` +
      ` (old values sent: ${table.identityColumns.join(', ') || 'none'}); run: ALTER TABLE ${ident} REPLICA IDENTITY FULL;`,
  );
}

/** Creates the publication for the tables, or adds the tables it lacks. */
export async function ensurePublication(db: Queryable, publication: string, tables: string[]): Promise<void> {
  const quoted = tables.map((name) => {
    const [schema, table] = splitTableName(name);
    return `${quoteIdent(schema)}.${quoteIdent(table)}`;
  });
  try {
    const { rows } = await db.query<{ schemaname: string; tablename: string }>(
      'SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1',
      [publication],
    );
    const exists =
      (await db.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication])).rowCount === 1;
    if (!exists) {
      await db.query(`CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${quoted.join(', ')}`);
      return;
    }
    const published = new Set(rows.map((row) => `${row.schemaname}.${row.tablename}`));
    const missing = tables.filter((name) => !published.has(name));
    if (missing.length > 0) {
      await db.query(
        `ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${missing
          .map((name) => quoted[tables.indexOf(name)])
          .join(', ')}`,
      );
    }
  } catch (error) {
    if (isPgError(error, '42501')) {
      throw new SourceError(
        'permission',
        `source.postgres: the user may not create or alter publication "${publication}" (${(error as Error).message}); ` +
          `as a superuser run: CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${quoted.join(', ')}; or grant ownership of the tables`,
      );
    }
    throw error;
  }
}

export interface SlotState {
  created: boolean;
  /** The position from which the slot decodes: its confirmed flush LSN. */
  confirmedLsn: string;
}

/** Creates the logical slot (pgoutput) if missing; refuses a slot of another plugin or one in use. */
export async function ensureSlot(db: Queryable, slot: string): Promise<SlotState> {
  const wal = await db.query<{ wal_level: string }>('SHOW wal_level');
  if (wal.rows[0]?.wal_level !== 'logical') {
    throw new SourceError(
      'wal_level',
      `PostgreSQL runs with wal_level=${wal.rows[0]?.wal_level}; logical replication needs wal_level=logical (ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL)`,
    );
  }
  const { rows } = await db.query<{
    plugin: string;
    database: string;
    active_pid: number | null;
    confirmed_flush_lsn: string;
  }>(
    'SELECT plugin, database, active_pid, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  const existing = rows[0];
  if (existing) {
    if (existing.plugin !== 'pgoutput') {
      throw new SourceError(
        'slot_in_use',
        `source.postgres.slot: slot "${slot}" uses plugin ${existing.plugin}, not pgoutput; choose another slot name or drop it (SELECT pg_drop_replication_slot('${slot}'))`,
      );
    }
    const database = await currentDatabase(db);
    if (existing.database !== database) {
      throw new SourceError(
        'slot_in_use',
        `source.postgres.slot: slot "${slot}" belongs to database ${existing.database}, not ${database}; choose another slot name`,
      );
    }
    if (existing.active_pid !== null) {
      throw new SourceError(
        'slot_in_use',
        `source.postgres.slot: slot "${slot}" is in use by another process (pid ${existing.active_pid}); stop the other reader, or run this worker as a standby (it waits for the lock)`,
      );
    }
    return { created: false, confirmedLsn: existing.confirmed_flush_lsn };
  }
  try {
    const created = await db.query<{ lsn: string }>(
      `SELECT lsn::text FROM pg_create_logical_replication_slot(${quoteLiteral(slot)}, 'pgoutput')`,
    );
    return { created: true, confirmedLsn: created.rows[0]!.lsn };
  } catch (error) {
    if (isPgError(error, '42501')) {
      throw new SourceError(
        'permission',
        `source.postgres: the user may not create replication slot "${slot}"; grant it: ALTER ROLE <user> WITH REPLICATION;`,
      );
    }
    throw error;
  }
}

export function splitTableName(name: string): [string, string] {
  const dot = name.indexOf('.');
  if (dot <= 0 || dot === name.length - 1) throw new Error(`table "${name}" must be written as schema.table`);
  return [name.slice(0, dot), name.slice(dot + 1)];
}

async function currentDatabase(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ db: string }>('SELECT current_database() AS db');
  return rows[0]!.db;
}

async function columnNames(db: Queryable, oid: number): Promise<string[]> {
  const { rows } = await db.query<{ attname: string }>(
    'SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
    [oid],
  );
  return rows.map((row) => row.attname);
}

async function indexColumns(
  db: Queryable,
  oid: number,
  flag: 'indisprimary' | 'indisreplident',
): Promise<string[]> {
  const { rows } = await db.query<{ attname: string }>(
    `SELECT a.attname FROM pg_index i
       JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) ON true
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.${flag}
      ORDER BY k.position`,
    [oid],
  );
  return rows.map((row) => row.attname);
}

function isPgError(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}
