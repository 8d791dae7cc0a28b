import { BinaryReader } from './binary-reader.js';
import type { ColumnValue, PgoutputMessage, ReplicaIdentity } from './messages.js';

const REPLICA_IDENTITY: Record<string, ReplicaIdentity> = {
  d: 'default',
  n: 'nothing',
  f: 'full',
  i: 'index',
};

/** Decodes one pgoutput (protocol version 1) message: the payload of an XLogData frame. */
export function decodePgoutput(buffer: Buffer): PgoutputMessage {
  const reader = new BinaryReader(buffer);
  const tag = String.fromCharCode(reader.uint8());
  switch (tag) {
    case 'B':
      return { tag: 'begin', commitLsn: reader.lsn(), commitTime: reader.timestamp(), xid: reader.uint32() };
    case 'C':
      reader.uint8(); // flags: unused
      return { tag: 'commit', commitLsn: reader.lsn(), endLsn: reader.lsn(), commitTime: reader.timestamp() };
    case 'O':
      return { tag: 'origin', originLsn: reader.lsn(), name: reader.cstring() };
    case 'R': {
      const relationOid = reader.uint32();
      const schema = reader.cstring();
      const table = reader.cstring();
      const identityCode = String.fromCharCode(reader.uint8());
      const replicaIdentity = REPLICA_IDENTITY[identityCode];
      if (!replicaIdentity)
        throw new Error(`pgoutput: unknown replica identity "${identityCode}" for ${schema}.${table}`);
      const count = reader.int16();
      const columns = [];
      for (let i = 0; i < count; i++) {
        const flags = reader.uint8();
        columns.push({
          isIdentity: (flags & 1) === 1,
          name: reader.cstring(),
          typeOid: reader.uint32(),
          typeMod: reader.int32(),
        });
      }
      return { tag: 'relation', relationOid, schema, table, replicaIdentity, columns };
    }
    case 'Y':
      return { tag: 'type', typeOid: reader.uint32(), schema: reader.cstring(), name: reader.cstring() };
    case 'I': {
      const relationOid = reader.uint32();
      expectByte(reader, 'N', 'insert');
      return { tag: 'insert', relationOid, newTuple: readTuple(reader) };
    }
    case 'U': {
      const relationOid = reader.uint32();
      let marker = String.fromCharCode(reader.uint8());
      let oldKind: 'key' | 'old' | null = null;
      let oldTuple: ColumnValue[] | null = null;
      if (marker === 'K' || marker === 'O') {
        oldKind = marker === 'K' ? 'key' : 'old';
        oldTuple = readTuple(reader);
        marker = String.fromCharCode(reader.uint8());
      }
      if (marker !== 'N') throw new Error(`pgoutput: update: expected "N", got "${marker}"`);
      return { tag: 'update', relationOid, oldKind, oldTuple, newTuple: readTuple(reader) };
    }
    case 'D': {
      const relationOid = reader.uint32();
      const marker = String.fromCharCode(reader.uint8());
      if (marker !== 'K' && marker !== 'O')
        throw new Error(`pgoutput: delete: expected "K" or "O", got "${marker}"`);
      return {
        tag: 'delete',
        relationOid,
        oldKind: marker === 'K' ? 'key' : 'old',
        oldTuple: readTuple(reader),
      };
    }
    case 'T': {
      const count = reader.uint32();
      const options = reader.uint8();
      const relationOids = [];
      for (let i = 0; i < count; i++) relationOids.push(reader.uint32());
      return {
        tag: 'truncate',
        cascade: (options & 1) === 1,
        restartIdentity: (options & 2) === 2,
        relationOids,
      };
    }
    case 'M': {
      const flags = reader.uint8();
      const lsn = reader.lsn();
      const prefix = reader.cstring();
      const content = Buffer.from(reader.bytes(reader.uint32()));
      return { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content };
    }
    default:
      throw new Error(
        `pgoutput: unsupported message type "${tag}" (protocol version 1 is expected; streaming is not requested)`,
      );
  }
}

function expectByte(reader: BinaryReader, expected: string, what: string): void {
  const marker = String.fromCharCode(reader.uint8());
  if (marker !== expected) throw new Error(`pgoutput: ${what}: expected "${expected}", got "${marker}"`);
}

function readTuple(reader: BinaryReader): ColumnValue[] {
  const count = reader.int16();
  const values: ColumnValue[] = [];
  for (let i = 0; i < count; i++) {
    const kind = String.fromCharCode(reader.uint8());
    switch (kind) {
      case 'n':
        values.push({ kind: 'null' });
        break;
      case 'u':
        values.push({ kind: 'unchanged' });
        break;
      case 't':
        values.push({ kind: 'text', text: reader.bytes(reader.uint32()).toString('utf8') });
        break;
      default:
        // 'b' (binary) only comes with the binary option, which the source never asks for.
        throw new Error(`pgoutput: unsupported column value kind "${kind}"`);
    }
  }
  return values;
}
