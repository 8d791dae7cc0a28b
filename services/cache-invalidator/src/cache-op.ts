import type { StoreName } from '@cdc-cache/cache-stores';
import type { RowImage } from '@cdc-cache/core';

/**
 * One operation on one store, planned from a change event. Row operations carry the row
 * image the key is rendered from (at apply time, with the table's generation then), so a
 * retried operation lands in the generation current when it runs. Plain data: it travels
 * through the retry queue and the dead-letter queue as JSON.
 */
export type CacheOp = RowOp | TruncateOp;

export interface RowOp {
  kind: 'refresh' | 'evict';
  store: StoreName;
  table: string;
  /** The rule key's template text (as written in the config). */
  template: string;
  /** The row image the key is rendered from (only the template's columns). */
  row: RowImage;
  /** The key at generation 0: the order key and Memcached's route. */
  route: string;
  version: string;
  /** Commit time of the change (ISO 8601): end-to-end latency, and the age rule of refreshes. */
  commitTime: string;
  /** refresh: the row document, and the rule's ttl. */
  value?: string;
  ttl?: number;
}

export interface TruncateOp {
  kind: 'truncate';
  store: StoreName;
  table: string;
  version: string;
  commitTime: string;
}

/** Operations on the same order key run one after another, in the order planned. */
export function orderKey(op: CacheOp): string {
  return op.kind === 'truncate' ? `${op.store}\u0000@table:${op.table}` : `${op.store}\u0000${op.route}`;
}
