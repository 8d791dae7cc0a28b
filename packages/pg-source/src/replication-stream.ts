import { formatLsn, type Lsn, parseLsn } from '@cdc-cache/core';
import pg from 'pg';
import { decodePgoutput } from './pgoutput/decode.js';
import type { PgoutputMessage } from './pgoutput/messages.js';

/** Milliseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
const PG_EPOCH_MS = 946_684_800_000;

export interface ReplicationStreamOptions {
  connectionString: string;
  slot: string;
  publication: string;
  /** How often a standby status update is sent even when nothing changed. */
  statusIntervalMs?: number;
  /** Pause reading from the socket when this many frames wait to be consumed. */
  highWaterMark?: number;
}

export type StreamFrame =
  | { kind: 'data'; lsn: Lsn; message: PgoutputMessage }
  /** The server has sent everything up to walEnd (a keepalive). */
  | { kind: 'keepalive'; walEnd: Lsn };

/**
 * A pgoutput replication connection (protocol version 1, with logical messages). Frames come
 * out in WAL order through the async iterator; the flush position sent to PostgreSQL is only
 * ever what the owner passes to confirm(): never the last LSN received (pg-logical-replication
 * acknowledges received LSNs on a timer and adds one to the position, which can skip a
 * transaction whose commit record starts where the previous one ended; hence this class).
 */
export class ReplicationStream implements AsyncIterable<StreamFrame> {
  private client: pg.Client | null = null;
  private readonly frames: StreamFrame[] = [];
  private waiter: (() => void) | null = null;
  private error: Error | null = null;
  private ended = false;
  private paused = false;
  private received: bigint = 0n;
  private confirmed: bigint = 0n;
  private statusTimer: NodeJS.Timeout | null = null;
  private readonly highWaterMark: number;

  constructor(private readonly options: ReplicationStreamOptions) {
    this.highWaterMark = options.highWaterMark ?? 2_000;
  }

  /** Opens the replication connection and starts streaming from the slot's confirmed position. */
  async start(): Promise<void> {
    // pg supports replication connections, but its typings do not list the option.
    const config = {
      connectionString: this.options.connectionString,
      replication: 'database',
      application_name: `cdc-cache ${this.options.slot}`,
    };
    const client = new pg.Client(config as pg.ClientConfig);
    this.client = client;
    client.on('error', (error) => this.fail(error));
    await client.connect();
    const connection = (client as unknown as { connection: PgConnection }).connection;
    connection.on('copyData', ({ chunk }: { chunk: Buffer }) => this.onCopyData(chunk));
    const { slot, publication } = this.options;
    // Resolves when streaming begins; rejects if the server refuses (no slot, slot in use, ...).
    await new Promise<void>((resolve, reject) => {
      connection.once('replicationStart', () => resolve());
      client
        .query(
          `START_REPLICATION SLOT ${quoteIdent(slot)} LOGICAL 0/0 ` +
            `(proto_version '1', publication_names ${quoteLiteral(publication)}, messages 'true')`,
        )
        .then(
          () => {
            this.finish();
            resolve();
          },
          (error: Error) => {
            this.fail(error);
            reject(error);
          },
        );
    });
    this.statusTimer = setInterval(() => this.sendStatus(false), this.options.statusIntervalMs ?? 5_000);
  }

  /** Marks everything up to lsn as durable downstream; PostgreSQL may discard the WAL before it. */
  confirm(lsn: Lsn): void {
    const value = parseLsn(lsn);
    if (value <= this.confirmed) return;
    this.confirmed = value;
    this.sendStatus(false);
  }

  get confirmedLsn(): Lsn {
    return formatLsn(this.confirmed);
  }

  get receivedLsn(): Lsn {
    return formatLsn(this.received);
  }

  /**
   * Ends the iteration after the frames already received, keeping the connection open so the
   * owner can still confirm what became durable before stop().
   */
  endIteration(): void {
    this.ended = true;
    this.frames.length = 0;
    this.wake();
  }

  async stop(): Promise<void> {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = null;
    this.sendStatus(false);
    this.ended = true;
    this.wake();
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StreamFrame> {
    while (true) {
      const frame = this.frames.shift();
      if (frame) {
        if (this.paused && this.frames.length < this.highWaterMark / 2) this.resume();
        yield frame;
        continue;
      }
      if (this.error) throw this.error;
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  private onCopyData(chunk: Buffer): void {
    try {
      this.onFrame(chunk);
    } catch (error) {
      // A frame we cannot decode stops the stream (the owner restarts from the confirmed LSN).
      this.fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private onFrame(chunk: Buffer): void {
    const type = chunk[0];
    if (type === 0x77) {
      // XLogData: 'w', Int64 start of the WAL data, Int64 current end of WAL, Int64 send time, payload.
      const lsn = chunk.readBigUInt64BE(1);
      if (lsn > this.received) this.received = lsn;
      this.push({ kind: 'data', lsn: formatLsn(lsn), message: decodePgoutput(chunk.subarray(25)) });
    } else if (type === 0x6b) {
      // Primary keepalive: 'k', Int64 end of WAL sent, Int64 send time, Byte1 reply requested.
      const walEnd = chunk.readBigUInt64BE(1);
      if (walEnd > this.received) this.received = walEnd;
      this.push({ kind: 'keepalive', walEnd: formatLsn(walEnd) });
      if (chunk[17] === 1) this.sendStatus(false);
    }
  }

  private push(frame: StreamFrame): void {
    this.frames.push(frame);
    if (!this.paused && this.frames.length >= this.highWaterMark) this.pause();
    this.wake();
  }

  private sendStatus(replyRequested: boolean): void {
    const connection = this.client && (this.client as unknown as { connection: PgConnection }).connection;
    if (!connection) return;
    const status = Buffer.alloc(34);
    status[0] = 0x72; // 'r': standby status update
    // Written is what arrived; flushed and applied are only what the owner confirmed.
    status.writeBigUInt64BE(this.received, 1);
    status.writeBigUInt64BE(this.confirmed, 9);
    status.writeBigUInt64BE(this.confirmed, 17);
    status.writeBigInt64BE(BigInt(Date.now() - PG_EPOCH_MS) * 1000n, 25);
    status[33] = replyRequested ? 1 : 0;
    connection.sendCopyFromChunk(status);
  }

  private pause(): void {
    this.paused = true;
    (this.client as unknown as { connection: PgConnection } | null)?.connection.stream.pause();
  }

  private resume(): void {
    this.paused = false;
    (this.client as unknown as { connection: PgConnection } | null)?.connection.stream.resume();
  }

  private fail(error: Error): void {
    this.error ??= error;
    this.wake();
  }

  private finish(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}

/** The parts of pg's internal Connection a replication stream uses. */
interface PgConnection {
  on(event: 'copyData', listener: (message: { chunk: Buffer }) => void): void;
  once(event: 'replicationStart', listener: () => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
  stream: { pause(): void; resume(): void };
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
