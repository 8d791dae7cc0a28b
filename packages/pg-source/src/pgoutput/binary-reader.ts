import { formatLsn, type Lsn } from '@cdc-cache/core';

/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
const PG_EPOCH_MICROS = 946_684_800_000_000n;

/** Reads pgoutput's big-endian fields in order; every read checks bounds. */
export class BinaryReader {
  private offset = 0;
  constructor(private readonly buffer: Buffer) {}

  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  uint8(): number {
    this.need(1);
    return this.buffer.readUInt8(this.offset++);
  }

  int16(): number {
    this.need(2);
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  int32(): number {
    this.need(4);
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  uint32(): number {
    this.need(4);
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  int64(): bigint {
    this.need(8);
    const value = this.buffer.readBigInt64BE(this.offset);
    this.offset += 8;
    return value;
  }

  lsn(): Lsn {
    this.need(8);
    const value = this.buffer.readBigUInt64BE(this.offset);
    this.offset += 8;
    return formatLsn(value);
  }

  /** A pg timestamp (µs since 2000-01-01) as ISO 8601 with milliseconds, UTC. */
  timestamp(): string {
    const micros = this.int64() + PG_EPOCH_MICROS;
    return new Date(Number(micros / 1000n)).toISOString();
  }

  /** A NUL-terminated string. */
  cstring(): string {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) throw new Error(`pgoutput: unterminated string at byte ${this.offset}`);
    const value = this.buffer.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return value;
  }

  bytes(length: number): Buffer {
    this.need(length);
    const value = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  private need(length: number): void {
    if (this.offset + length > this.buffer.length) {
      throw new Error(
        `pgoutput: message truncated: needed ${length} bytes at byte ${this.offset} of ${this.buffer.length}`,
      );
    }
  }
}
