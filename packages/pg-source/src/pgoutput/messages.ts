import type { Lsn } from '@cdc-cache/core';

/**
 * pgoutput protocol version 1 messages, as documented in PostgreSQL's "Logical Replication
 * Message Formats". Column values stay raw here (text as sent, null, or "unchanged TOAST");
 * turning them into row images is the job of the change assembler.
 */
export type PgoutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage;

export interface BeginMessage {
  tag: 'begin';
  /** LSN of the transaction's commit record. */
  commitLsn: Lsn;
  commitTime: string;
  xid: number;
}

export interface CommitMessage {
  tag: 'commit';
  commitLsn: Lsn;
  /** End of the commit record: the flush position to confirm once the transaction is safe. */
  endLsn: Lsn;
  commitTime: string;
}

export interface OriginMessage {
  tag: 'origin';
  originLsn: Lsn;
  name: string;
}

export type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

export interface RelationColumn {
  name: string;
  /** Part of the replica identity (every column, for REPLICA IDENTITY FULL). */
  isIdentity: boolean;
  typeOid: number;
  typeMod: number;
}

export interface RelationMessage {
  tag: 'relation';
  relationOid: number;
  schema: string;
  table: string;
  replicaIdentity: ReplicaIdentity;
  columns: RelationColumn[];
}

export interface TypeMessage {
  tag: 'type';
  typeOid: number;
  schema: string;
  name: string;
}

/** One column's value as sent: text, SQL NULL, or an unchanged TOAST value that was not sent. */
export type ColumnValue = { kind: 'text'; text: string } | { kind: 'null' } | { kind: 'unchanged' };

export interface InsertMessage {
  tag: 'insert';
  relationOid: number;
  newTuple: ColumnValue[];
}

export interface UpdateMessage {
  tag: 'update';
  relationOid: number;
  /** 'key': only replica-identity columns of the old row; 'old': the whole old row (FULL). */
  oldKind: 'key' | 'old' | null;
  oldTuple: ColumnValue[] | null;
  newTuple: ColumnValue[];
}

export interface DeleteMessage {
  tag: 'delete';
  relationOid: number;
  oldKind: 'key' | 'old';
  oldTuple: ColumnValue[];
}

export interface TruncateMessage {
  tag: 'truncate';
  cascade: boolean;
  restartIdentity: boolean;
  relationOids: number[];
}

/** pg_logical_emit_message(): used for heartbeats and snapshot watermarks. */
export interface LogicalMessage {
  tag: 'message';
  transactional: boolean;
  lsn: Lsn;
  prefix: string;
  content: Buffer;
}
