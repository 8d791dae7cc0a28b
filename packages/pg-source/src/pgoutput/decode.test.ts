import { describe, expect, it } from 'vitest';
import { ChangeAssembler } from './change-assembler.js';
import { decodePgoutput } from './decode.js';

/** Builds pgoutput messages byte by byte, as PostgreSQL's logicalrep writer does. */
class Writer {
  private readonly parts: Buffer[] = [];
  byte(char: string): this {
    this.parts.push(Buffer.from(char, 'latin1'));
    return this;
  }
  int8(value: number): this {
    this.parts.push(Buffer.from([value]));
    return this;
  }
  int16(value: number): this {
    const buffer = Buffer.alloc(2);
    buffer.writeInt16BE(value);
    this.parts.push(buffer);
    return this;
  }
  int32(value: number): this {
    const buffer = Buffer.alloc(4);
    if (value < 0) buffer.writeInt32BE(value);
    else buffer.writeUInt32BE(value);
    this.parts.push(buffer);
    return this;
  }
  int64(value: bigint): this {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64BE(value);
    this.parts.push(buffer);
    return this;
  }
  cstring(text: string): this {
    this.parts.push(Buffer.from(`${text}\0`, 'utf8'));
    return this;
  }
  text(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    return this.byte('t').int32(bytes.length).raw(bytes);
  }
  raw(bytes: Buffer): this {
    this.parts.push(bytes);
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

// 2026-01-02T03:04:05.678Z as microseconds since 2000-01-01.
const COMMIT_MICROS = (BigInt(Date.parse('2026-01-02T03:04:05.678Z')) - 946_684_800_000n) * 1000n;

const begin = new Writer().byte('B').int64(0x1_0000_0100n).int64(COMMIT_MICROS).int32(4242).build();
const relation = new Writer()
  .byte('R')
  .int32(16384)
  .cstring('public')
  .cstring('users')
  .byte('d')
  .int16(3)
  .int8(1)
  .cstring('id')
  .int32(20)
  .int32(-1)
  .int8(0)
  .cstring('email')
  .int32(25)
  .int32(-1)
  .int8(0)
  .cstring('bio')
  .int32(25)
  .int32(-1)
  .build();
const commit = new Writer()
  .byte('C')
  .int8(0)
  .int64(0x1_0000_0100n)
  .int64(0x1_0000_0130n)
  .int64(COMMIT_MICROS)
  .build();

describe('decodePgoutput', () => {
  it('decodes begin, relation and commit', () => {
    expect(decodePgoutput(begin)).toEqual({
      tag: 'begin',
      commitLsn: '1/100',
      commitTime: '2026-01-02T03:04:05.678Z',
      xid: 4242,
    });
    expect(decodePgoutput(relation)).toMatchObject({
      tag: 'relation',
      relationOid: 16384,
      schema: 'public',
      table: 'users',
      replicaIdentity: 'default',
      columns: [
        { name: 'id', isIdentity: true, typeOid: 20 },
        { name: 'email', isIdentity: false, typeOid: 25 },
        { name: 'bio', isIdentity: false, typeOid: 25 },
      ],
    });
    expect(decodePgoutput(commit)).toEqual({
      tag: 'commit',
      commitLsn: '1/100',
      endLsn: '1/130',
      commitTime: '2026-01-02T03:04:05.678Z',
    });
  });

  it('refuses a truncated message with the byte position', () => {
    expect(() => decodePgoutput(begin.subarray(0, 10))).toThrow(/truncated: needed 8 bytes at byte 9 of 10/);
  });

  it('refuses binary column values and unknown message types clearly', () => {
    const binary = new Writer().byte('I').int32(16384).byte('N').int16(1).byte('b').int32(1).int8(1).build();
    expect(() => decodePgoutput(binary)).toThrow(/unsupported column value kind "b"/);
    expect(() => decodePgoutput(Buffer.from('S'))).toThrow(/unsupported message type "S"/);
  });
});

describe('ChangeAssembler', () => {
  function assembler(valueMode: 'text' | 'parsed' = 'text') {
    const assembled = new ChangeAssembler('app', valueMode);
    const message = decodePgoutput(relation);
    if (message.tag !== 'relation') throw new Error('expected a relation');
    assembled.addRelation({ ...message, keyColumns: ['id'] });
    assembled.accept(decodePgoutput(begin), '1/F0');
    return assembled;
  }

  it('numbers the changes of a transaction and stamps them with its commit', () => {
    const assembled = assembler();
    const insert = new Writer()
      .byte('I')
      .int32(16384)
      .byte('N')
      .int16(3)
      .text('9007199254740993')
      .text('a@example.com')
      .byte('n')
      .build();
    const [first] = assembled.accept(decodePgoutput(insert), '1/F8');
    const [second] = assembled.accept(decodePgoutput(insert), '1/FC');
    const [end] = assembled.accept(decodePgoutput(commit), '1/130');
    expect(first).toEqual({
      kind: 'change',
      event: {
        op: 'c',
        source: {
          db: 'app',
          schema: 'public',
          table: 'users',
          lsn: '1/F8',
          commitLsn: '1/100',
          txId: 4242,
          commitTime: '2026-01-02T03:04:05.678Z',
          seq: 0,
        },
        // bigint stays a string: no precision loss.
        key: { id: '9007199254740993' },
        before: null,
        after: { id: '9007199254740993', email: 'a@example.com', bio: null },
        unchangedToast: [],
      },
    });
    expect(second).toMatchObject({ event: { source: { seq: 1, lsn: '1/FC' } } });
    expect(end).toEqual({ kind: 'commit', commitLsn: '1/100', endLsn: '1/130', txId: 4242, changes: 2 });
  });

  it('lists an unchanged TOAST column instead of writing null into the row', () => {
    const assembled = assembler();
    const update = new Writer()
      .byte('U')
      .int32(16384)
      .byte('N')
      .int16(3)
      .text('1')
      .text('b@example.com')
      .byte('u')
      .build();
    const [item] = assembled.accept(decodePgoutput(update), '1/F8');
    expect(item).toMatchObject({
      event: { op: 'u', before: null, after: { id: '1', email: 'b@example.com' }, unchangedToast: ['bio'] },
    });
    if (item?.kind !== 'change') throw new Error('expected a change');
    expect('bio' in (item.event.after ?? {})).toBe(false);
  });

  it('takes an unchanged TOAST value from the old row when REPLICA IDENTITY FULL sends it', () => {
    const assembled = assembler();
    const update = new Writer()
      .byte('U')
      .int32(16384)
      .byte('O')
      .int16(3)
      .text('1')
      .text('a@example.com')
      .text('long bio')
      .byte('N')
      .int16(3)
      .text('1')
      .text('b@example.com')
      .byte('u')
      .build();
    const [item] = assembled.accept(decodePgoutput(update), '1/F8');
    expect(item).toMatchObject({
      event: {
        before: { id: '1', email: 'a@example.com', bio: 'long bio' },
        after: { id: '1', email: 'b@example.com', bio: 'long bio' },
        unchangedToast: [],
      },
    });
  });

  it('keys a delete by the old key (leaving out the columns it does not carry) and a truncate by nothing', () => {
    const assembled = assembler();
    const del = new Writer().byte('D').int32(16384).byte('K').int16(3).text('7').byte('n').byte('n').build();
    const truncate = new Writer().byte('T').int32(1).int8(0).int32(16384).build();
    expect(assembled.accept(decodePgoutput(del), '1/F8')[0]).toMatchObject({
      event: { op: 'd', key: { id: '7' }, before: { id: '7' }, after: null },
    });
    expect(assembled.accept(decodePgoutput(truncate), '1/FA')[0]).toMatchObject({
      event: { op: 't', key: null, before: null, after: null, source: { table: 'users', seq: 1 } },
    });
  });

  it('parses JSON-safe types only when asked, keeping bigint as text', () => {
    const assembled = new ChangeAssembler('app', 'parsed');
    assembled.addRelation({
      tag: 'relation',
      relationOid: 1,
      schema: 'public',
      table: 't',
      replicaIdentity: 'default',
      keyColumns: ['i'],
      columns: [
        { name: 'i', isIdentity: true, typeOid: 23, typeMod: -1 },
        { name: 'b', isIdentity: false, typeOid: 16, typeMod: -1 },
        { name: 'big', isIdentity: false, typeOid: 20, typeMod: -1 },
        { name: 'j', isIdentity: false, typeOid: 3802, typeMod: -1 },
        { name: 'f', isIdentity: false, typeOid: 701, typeMod: -1 },
      ],
    });
    assembled.accept(decodePgoutput(begin), '1/F0');
    const insert = new Writer()
      .byte('I')
      .int32(1)
      .byte('N')
      .int16(5)
      .text('5')
      .text('t')
      .text('12345678901234567890')
      .text('{"a": [1, 2]}')
      .text('NaN')
      .build();
    expect(assembled.accept(decodePgoutput(insert), '1/F8')[0]).toMatchObject({
      event: { after: { i: 5, b: true, big: '12345678901234567890', j: { a: [1, 2] }, f: 'NaN' } },
    });
  });
});
