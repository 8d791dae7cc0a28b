import {
  type ChangeEvent,
  type ChangeOp,
  convertValue,
  type Lsn,
  type RowImage,
  type ValueMode,
} from '@cdc-cache/core';

export type { ValueMode } from '@cdc-cache/core';

import type { ColumnValue, PgoutputMessage, RelationMessage } from './messages.js';

/** What a table's events are keyed by: its primary key, or columns the config names. */
export interface KnownRelation extends RelationMessage {
  keyColumns: string[];
}

/** What the stream yields, in WAL order. */
export type SourceItem =
  | { kind: 'change'; event: ChangeEvent }
  | { kind: 'commit'; commitLsn: Lsn; endLsn: Lsn; txId: number; changes: number }
  | { kind: 'message'; transactional: boolean; lsn: Lsn; prefix: string; content: Buffer }
  | { kind: 'relation'; relation: KnownRelation };

/**
 * Turns pgoutput messages into change events: tracks relations, keeps each transaction's
 * begin (commit LSN, time, xid) and numbers its changes. Pure: no I/O, fed in WAL order.
 */
export class ChangeAssembler {
  private readonly relations = new Map<number, KnownRelation>();
  private transaction: { commitLsn: Lsn; commitTime: string; xid: number; seq: number } | null = null;

  constructor(
    private readonly database: string,
    private readonly valueMode: ValueMode = 'text',
  ) {}

  /** Registers a relation (from a Relation message) with the columns its events are keyed by. */
  addRelation(relation: KnownRelation): SourceItem {
    this.relations.set(relation.relationOid, relation);
    return { kind: 'relation', relation };
  }

  relation(oid: number): KnownRelation | undefined {
    return this.relations.get(oid);
  }

  /**
   * Accepts one decoded message and the LSN of the WAL record it came from. Relation messages
   * go through addRelation (the caller looks up key columns first), so they are refused here.
   */
  accept(message: PgoutputMessage, lsn: Lsn): SourceItem[] {
    switch (message.tag) {
      case 'begin':
        this.transaction = {
          commitLsn: message.commitLsn,
          commitTime: message.commitTime,
          xid: message.xid,
          seq: 0,
        };
        return [];
      case 'commit': {
        const transaction = this.requireTransaction('commit');
        this.transaction = null;
        return [
          {
            kind: 'commit',
            commitLsn: message.commitLsn,
            endLsn: message.endLsn,
            txId: transaction.xid,
            changes: transaction.seq,
          },
        ];
      }
      case 'message':
        return [
          {
            kind: 'message',
            transactional: message.transactional,
            lsn: message.lsn,
            prefix: message.prefix,
            content: message.content,
          },
        ];
      case 'origin':
      case 'type':
        return [];
      case 'relation':
        throw new Error(
          'relation messages go through addRelation (their key columns must be looked up first)',
        );
      case 'insert': {
        const relation = this.requireRelation(message.relationOid);
        const { row, unchanged } = this.rowImage(relation, message.newTuple, null);
        return [this.change('c', relation, lsn, pick(row, relation.keyColumns), null, row, unchanged)];
      }
      case 'update': {
        const relation = this.requireRelation(message.relationOid);
        const before = message.oldTuple ? this.oldImage(relation, message.oldKind, message.oldTuple) : null;
        const { row: after, unchanged } = this.rowImage(
          relation,
          message.newTuple,
          message.oldKind === 'old' ? before : null,
        );
        return [this.change('u', relation, lsn, pick(after, relation.keyColumns), before, after, unchanged)];
      }
      case 'delete': {
        const relation = this.requireRelation(message.relationOid);
        const before = this.oldImage(relation, message.oldKind, message.oldTuple);
        return [this.change('d', relation, lsn, pick(before, relation.keyColumns), before, null, [])];
      }
      case 'truncate':
        return message.relationOids.map((oid) => {
          const relation = this.requireRelation(oid);
          return this.change('t', relation, lsn, null, null, null, []);
        });
    }
  }

  private change(
    op: ChangeOp,
    relation: KnownRelation,
    lsn: Lsn,
    key: RowImage | null,
    before: RowImage | null,
    after: RowImage | null,
    unchangedToast: string[],
  ): SourceItem {
    const transaction = this.requireTransaction(op);
    const event: ChangeEvent = {
      op,
      source: {
        db: this.database,
        schema: relation.schema,
        table: relation.table,
        lsn,
        commitLsn: transaction.commitLsn,
        txId: transaction.xid,
        commitTime: transaction.commitTime,
        seq: transaction.seq++,
      },
      key,
      before,
      after,
      unchangedToast,
    };
    return { kind: 'change', event };
  }

  /**
   * The old row: whole (REPLICA IDENTITY FULL) or only its identity columns. pgoutput sends
   * the other columns of a key-only tuple as null; they are left out, since they were not null.
   */
  private oldImage(relation: KnownRelation, kind: 'key' | 'old' | null, tuple: ColumnValue[]): RowImage {
    const { row } = this.rowImage(relation, tuple, null);
    if (kind !== 'key') return row;
    const identity: RowImage = {};
    relation.columns.forEach((column) => {
      if (column.isIdentity && column.name in row) identity[column.name] = row[column.name];
    });
    return identity;
  }

  /**
   * A row image from a tuple. An unchanged TOAST value is taken from the old row when the old
   * row carries it (REPLICA IDENTITY FULL); otherwise it is left out and reported, never null.
   */
  private rowImage(
    relation: KnownRelation,
    tuple: ColumnValue[],
    oldRow: RowImage | null,
  ): { row: RowImage; unchanged: string[] } {
    const row: RowImage = {};
    const unchanged: string[] = [];
    tuple.forEach((value, index) => {
      const column = relation.columns[index];
      if (!column)
        throw new Error(
          `pgoutput: tuple has more columns than relation ${relation.schema}.${relation.table}`,
        );
      if (value.kind === 'null') row[column.name] = null;
      else if (value.kind === 'text') row[column.name] = this.convert(value.text, column.typeOid);
      else if (oldRow && oldRow[column.name] !== undefined) row[column.name] = oldRow[column.name];
      else unchanged.push(column.name);
    });
    return { row, unchanged };
  }

  private convert(text: string, typeOid: number): unknown {
    return convertValue(text, typeOid, this.valueMode);
  }

  private requireRelation(oid: number): KnownRelation {
    const relation = this.relations.get(oid);
    if (!relation) throw new Error(`pgoutput: change for relation ${oid} before its Relation message`);
    return relation;
  }

  private requireTransaction(what: string): { commitLsn: Lsn; commitTime: string; xid: number; seq: number } {
    if (!this.transaction) throw new Error(`pgoutput: ${what} outside a transaction (no Begin message)`);
    return this.transaction;
  }
}

function pick(row: RowImage, columns: string[]): RowImage {
  const key: RowImage = {};
  for (const column of columns) key[column] = row[column];
  return key;
}
