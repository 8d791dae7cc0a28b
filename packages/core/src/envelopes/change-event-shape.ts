import type { ChangeEvent, ChangeOp, ChangeSource, RowImage } from '../change-event.js';
import { compareLsn, parseLsn } from '../lsn.js';
import { describe, invalid, isRecord } from './json.js';

export const CHANGE_OPS: readonly ChangeOp[] = ['c', 'u', 'd', 't', 'r'];

const COMMIT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MAX_XID = 0xffff_ffff;

/** What each op carries (docs/events.md, "The value"). */
const SHAPE: Record<
  ChangeOp,
  { key: 'row' | 'null'; before: 'row' | 'null' | 'row-or-null'; after: 'row' | 'null' }
> = {
  c: { key: 'row', before: 'null', after: 'row' },
  u: { key: 'row', before: 'row-or-null', after: 'row' },
  d: { key: 'row', before: 'row', after: 'null' },
  t: { key: 'null', before: 'null', after: 'null' },
  r: { key: 'row', before: 'null', after: 'row' },
};

/**
 * Checks that a value is a change event that keeps the contract, and returns a fresh one
 * holding exactly the contract's fields (unknown fields are dropped: later v1 producers may
 * add some). Used on encode (so a broken event never reaches Kafka) and on decode.
 */
export function checkChangeEvent(
  value: unknown,
  envelope: string,
  at = '',
  options: { toastInCreates?: boolean } = {},
): ChangeEvent {
  const path = (field: string): string => (at === '' ? field : `${at}.${field}`);
  if (!isRecord(value)) invalid(envelope, at, `expected a change event object, got ${describe(value)}`);

  const op = value.op;
  if (typeof op !== 'string' || !(CHANGE_OPS as readonly string[]).includes(op)) {
    invalid(envelope, path('op'), `expected one of "c", "u", "d", "t", "r", got ${describe(op)}`);
  }
  const changeOp = op as ChangeOp;
  const source = checkSource(value.source, changeOp, envelope, path('source'));
  const shape = SHAPE[changeOp];

  const key =
    shape.key === 'null'
      ? checkNull(value.key, envelope, path('key'), changeOp)
      : checkKey(value.key, envelope, path('key'));
  const before = checkRowSlot(value.before, shape.before, envelope, path('before'), changeOp);
  const after = checkRowSlot(value.after, shape.after, envelope, path('after'), changeOp);
  const toastOps: ChangeOp[] = options.toastInCreates ? ['u', 'c'] : ['u'];
  const unchangedToast = checkUnchangedToast(
    value.unchangedToast,
    changeOp,
    toastOps,
    after,
    envelope,
    path('unchangedToast'),
  );

  return { op: changeOp, source, key, before, after, unchangedToast };
}

function checkSource(value: unknown, op: ChangeOp, envelope: string, at: string): ChangeSource {
  if (!isRecord(value)) invalid(envelope, at, `expected an object, got ${describe(value)}`);
  const text = (field: 'db' | 'schema' | 'table'): string => {
    const item = value[field];
    if (typeof item !== 'string' || item === '')
      invalid(envelope, `${at}.${field}`, `expected a non-empty string, got ${describe(item)}`);
    return item;
  };
  const lsn = (field: 'lsn' | 'commitLsn'): string => {
    const item = value[field];
    if (typeof item !== 'string' || !isLsn(item)) {
      invalid(
        envelope,
        `${at}.${field}`,
        `expected pg's text LSN such as "0/16B3748", got ${describe(item)}`,
      );
    }
    return item;
  };
  const db = text('db');
  const schema = text('schema');
  const table = text('table');
  const changeLsn = lsn('lsn');
  const commitLsn = lsn('commitLsn');
  if (compareLsn(changeLsn, commitLsn) > 0) {
    invalid(
      envelope,
      `${at}.lsn`,
      `${changeLsn} is after the commit ${commitLsn}; a change is always written before its commit`,
    );
  }

  const txId = value.txId;
  if (op === 'r') {
    if (txId !== null && !isXid(txId))
      invalid(envelope, `${at}.txId`, `expected an xid (0 to ${MAX_XID}) or null, got ${describe(txId)}`);
  } else if (!isXid(txId)) {
    invalid(
      envelope,
      `${at}.txId`,
      `expected the xid of the transaction (0 to ${MAX_XID}) for op "${op}", got ${describe(txId)}`,
    );
  }

  const commitTime = value.commitTime;
  if (
    typeof commitTime !== 'string' ||
    !COMMIT_TIME.test(commitTime) ||
    Number.isNaN(Date.parse(commitTime))
  ) {
    invalid(
      envelope,
      `${at}.commitTime`,
      `expected ISO 8601 UTC with milliseconds such as "2026-11-20T09:15:02.113Z", got ${describe(commitTime)}`,
    );
  }
  const seq = value.seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    invalid(
      envelope,
      `${at}.seq`,
      `expected the 0-based position of the change in its transaction, got ${describe(seq)}`,
    );
  }
  return { db, schema, table, lsn: changeLsn, commitLsn, txId: txId as number | null, commitTime, seq };
}

function checkKey(value: unknown, envelope: string, at: string): RowImage {
  if (!isRecord(value))
    invalid(envelope, at, `expected the primary key columns as an object, got ${describe(value)}`);
  const columns = Object.keys(value);
  if (columns.length === 0)
    invalid(envelope, at, 'the key has no columns; a row event is keyed by its primary key');
  for (const column of columns) {
    if (value[column] === undefined) invalid(envelope, `${at}.${column}`, 'key column has no value');
  }
  return { ...value };
}

function checkNull(value: unknown, envelope: string, at: string, op: ChangeOp): null {
  if (value !== null) invalid(envelope, at, `expected null for op "${op}", got ${describe(value)}`);
  return null;
}

function checkRowSlot(
  value: unknown,
  expected: 'row' | 'null' | 'row-or-null',
  envelope: string,
  at: string,
  op: ChangeOp,
): RowImage | null {
  if (expected === 'null') return checkNull(value, envelope, at, op);
  if (value === null && expected === 'row-or-null') return null;
  if (!isRecord(value)) {
    const wanted = expected === 'row' ? 'a row image object' : 'a row image object or null';
    invalid(envelope, at, `expected ${wanted} for op "${op}", got ${describe(value)}`);
  }
  for (const [column, item] of Object.entries(value)) {
    if (item === undefined)
      invalid(
        envelope,
        `${at}.${column}`,
        'column has no value (write null for SQL NULL, or leave an unchanged TOAST column out and list it in unchangedToast)',
      );
  }
  return { ...value };
}

function checkUnchangedToast(
  value: unknown,
  op: ChangeOp,
  toastOps: ChangeOp[],
  after: RowImage | null,
  envelope: string,
  at: string,
): string[] {
  if (!Array.isArray(value))
    invalid(envelope, at, `expected an array of column names, got ${describe(value)}`);
  if (value.length > 0 && !toastOps.includes(op)) {
    invalid(envelope, at, `only updates have unchanged TOAST columns, got ${value.length} for op "${op}"`);
  }
  const seen = new Set<string>();
  value.forEach((column: unknown, index) => {
    if (typeof column !== 'string' || column === '')
      invalid(envelope, `${at}.${index}`, `expected a column name, got ${describe(column)}`);
    if (seen.has(column)) invalid(envelope, `${at}.${index}`, `column "${column}" is listed twice`);
    if (after && Object.hasOwn(after, column)) {
      invalid(
        envelope,
        `${at}.${index}`,
        `column "${column}" is in after too; an unchanged TOAST column is left out of after`,
      );
    }
    seen.add(column);
  });
  return [...seen];
}

function isLsn(text: string): boolean {
  try {
    parseLsn(text);
    return true;
  } catch {
    return false;
  }
}

function isXid(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_XID;
}
