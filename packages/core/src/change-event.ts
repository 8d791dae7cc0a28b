import type { Lsn } from './lsn.js';

/**
 * The change event: the contract for every Kafka subscriber (docs/events.md).
 * c = insert, u = update, d = delete, t = truncate, r = snapshot read.
 */
export type ChangeOp = 'c' | 'u' | 'd' | 't' | 'r';

/**
 * A row image: column name -> value. Values follow pg's text output (bigint and numeric stay
 * strings, no precision loss) unless the config asks for parsed types; SQL NULL is null.
 * A column whose value pgoutput did not send (unchanged TOAST) is absent, never null, and is
 * listed in the event's `unchangedToast`.
 */
export type RowImage = Record<string, unknown>;

export interface ChangeSource {
  /** Database name. */
  db: string;
  schema: string;
  table: string;
  /** LSN of this change; equal for a replayed duplicate, so consumers can drop it. */
  lsn: Lsn;
  /** LSN of the commit of the transaction; the version of every value this event writes. */
  commitLsn: Lsn;
  /** Transaction id, or null for snapshot reads. */
  txId: number | null;
  /** Commit time, ISO 8601 with milliseconds, UTC. */
  commitTime: string;
  /** Position of the change within its transaction (0-based). */
  seq: number;
}

export interface ChangeEvent {
  op: ChangeOp;
  source: ChangeSource;
  /** Primary key columns -> values; null for a truncate (it concerns the whole table). */
  key: RowImage | null;
  /** Row before the change: for updates and deletes, as far as REPLICA IDENTITY provides it. */
  before: RowImage | null;
  /** Row after the change: for inserts, updates and snapshot reads. */
  after: RowImage | null;
  /** Columns whose value did not change and was not sent (TOAST); absent from `after`. */
  unchangedToast: string[];
}

/** "schema.table", the form used in config rules and metric labels. */
export function qualifiedTable(source: Pick<ChangeSource, 'schema' | 'table'>): string {
  return `${source.schema}.${source.table}`;
}

/**
 * Canonical JSON: object keys sorted, no whitespace. Used for Kafka message keys and
 * document ids, so the same primary key always maps to the same bytes (and partition).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const name of Object.keys(value).sort())
      sorted[name] = sortKeys((value as Record<string, unknown>)[name]);
    return sorted;
  }
  return value;
}
