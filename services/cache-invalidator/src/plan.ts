import { fenceVersion } from '@cdc-cache/cache-stores';
import { type ChangeEvent, canonicalJson, qualifiedTable, type RowImage } from '@cdc-cache/core';
import type { CacheOp, RowOp } from './cache-op.js';
import type { CompiledKey, CompiledRule } from './rules.js';

/** Why part of an event could not be applied; it becomes a dead letter, the rest goes on. */
export interface PlanProblem {
  reason: 'key-render' | 'before-image';
  message: string;
}

export interface Plan {
  ops: CacheOp[];
  problems: PlanProblem[];
}

/**
 * The cache operations for one change event under its table's rule:
 *
 * - insert, snapshot read: each key from the new row; refresh writes the row document, evict
 *   deletes. A refresh whose row has unchanged TOAST columns (not in the event) evicts instead.
 * - update: the same for the new row, and for every key whose inputs changed, an evict of the
 *   key computed from the before-image (`user:email:{email}` of the old email).
 * - delete: an evict of every key, computed from the before-image.
 * - truncate: a generation bump in every store the rule uses.
 *
 * A key that does not render (a missing or NULL column, a value that cannot be in a key) is a
 * problem of that key only: the other keys are still planned.
 */
export function planEvent(event: ChangeEvent, rule: CompiledRule): Plan {
  const { source } = event;
  const version = fenceVersion(source.commitLsn, source.lsn);
  const table = qualifiedTable(source);
  const base = { table, version, commitTime: source.commitTime };
  const ops: CacheOp[] = [];
  const problems: PlanProblem[] = [];

  if (event.op === 't') {
    for (const store of rule.stores) ops.push({ kind: 'truncate', store, ...base });
    return { ops, problems };
  }

  const rowOp = (key: CompiledKey, row: RowImage, kind: 'refresh' | 'evict'): RowOp | null => {
    const rendered = key.template.render(row);
    if (!rendered.ok) {
      problems.push({ reason: 'key-render', message: rendered.reason });
      return null;
    }
    const inputs: RowImage = {};
    for (const column of key.template.columns) inputs[column] = row[column];
    const op: RowOp = {
      kind,
      store: key.store,
      template: key.template.text,
      row: inputs,
      route: rendered.key,
      ...base,
    };
    if (kind === 'refresh') {
      op.value = canonicalJson(event.after);
      if (key.ttl !== undefined) op.ttl = key.ttl;
    }
    return op;
  };

  const oldRow = event.before ?? (event.op === 'd' || event.op === 'u' ? event.key : null);
  if (event.op === 'd') {
    for (const key of rule.keys) {
      const op = oldRow === null ? null : rowOp(key, oldRow, 'evict');
      if (op) ops.push(op);
      else if (oldRow === null) problems.push(missingBefore(key, table));
    }
    return { ops, problems };
  }

  // c, r, u: the new row, with unchanged TOAST columns taken from the before-image when it has them.
  const after = event.after ?? {};
  const newRow: RowImage = { ...after };
  for (const column of event.unchangedToast) {
    if (event.before && Object.hasOwn(event.before, column)) newRow[column] = event.before[column];
  }
  const toastMissing = event.unchangedToast.length > 0;
  for (const key of rule.keys) {
    const kind = key.action === 'refresh' && !toastMissing ? 'refresh' : 'evict';
    const op = rowOp(key, newRow, kind);
    if (op) ops.push(op);
    if (event.op !== 'u' || oldRow === null) continue;
    // The key from the before-image: evict it if the key's inputs changed.
    const keyColumnsOnly = event.before === null;
    if (keyColumnsOnly && !key.template.columns.every((column) => Object.hasOwn(oldRow, column))) {
      // REPLICA IDENTITY DEFAULT and an unchanged primary key: only key columns are known, and
      // this template needs others. The cdc-worker refuses such a table at start; say so here too.
      problems.push(missingBefore(key, table));
      continue;
    }
    const old = key.template.render(oldRow);
    if (!old.ok) {
      problems.push({ reason: 'before-image', message: `before-image: ${old.reason}` });
    } else if (op === null || old.key !== op.route) {
      const evict = rowOp(key, oldRow, 'evict');
      if (evict) ops.push(evict);
    }
  }
  return { ops, problems };
}

function missingBefore(key: CompiledKey, table: string): PlanProblem {
  return {
    reason: 'before-image',
    message: `key template ${JSON.stringify(key.template.text)}: the event has no before-image with columns ${key.template.columns.join(', ')}; set REPLICA IDENTITY FULL on ${table}`,
  };
}
