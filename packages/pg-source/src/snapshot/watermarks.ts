import type { ChangeEvent, Lsn, RowImage } from '@cdc-cache/core';
import { canonicalJson } from '@cdc-cache/core';
import type { SourceFrame } from '../postgres-source.js';

/** The prefix of snapshot watermark messages in the stream. */
export const WATERMARK_PREFIX = 'cdc_cache.watermark';

export interface Watermark {
  chunk: string;
  mark: 'low' | 'high';
  schema: string;
  table: string;
}

export interface SnapshotChunk {
  id: string;
  schema: string;
  table: string;
  database: string;
  keyColumns: string[];
  rows: RowImage[];
}

interface OpenWindow {
  watermark: Watermark;
  changedKeys: Set<string>;
}

/**
 * Interleaves snapshot reads with the change stream without losing or reordering a change
 * (the watermark algorithm of Netflix's DBLog, as in Debezium's incremental snapshots):
 * the reader writes a low watermark, reads a chunk of rows, writes a high watermark. Between
 * the two marks in the stream, any change to a row of the chunk wins over the read; at the
 * high mark, the rows nobody changed are emitted as `r` events, stamped with the high mark's
 * LSN, followed by a synthetic commit at that LSN so the chunk is tracked like a transaction.
 */
export class WatermarkCoordinator {
  private readonly windows = new Map<string, OpenWindow>();
  private readonly chunks = new Map<string, SnapshotChunk>();
  private readonly durable = new Map<Lsn, { resolve: () => void; chunk: string }>();
  private readonly waiting = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  private readonly lowSeen = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  /** Transaction ids (32-bit) whose commit the stream passed recently, oldest first. */
  private readonly recentCommits = new Set<number>();

  /**
   * Resolves when the stream has passed the chunk's low watermark: every transaction whose
   * commit record precedes it has been seen (see committedBeforeLow).
   */
  waitForLow(chunk: string): Promise<void> {
    return new Promise<void>((resolve, reject) => this.lowSeen.set(chunk, { resolve, reject }));
  }

  /**
   * Whether the stream saw any of these transactions commit (before the low watermark it has
   * passed). PostgreSQL writes a commit record before the transaction becomes visible, so a
   * snapshot taken after the low mark can still miss a transaction that committed before it;
   * such a transaction is in the snapshot's in-progress list and in this set. The reader then
   * takes a new snapshot, since the stream will not show that change inside the window.
   */
  committedBeforeLow(xids: number[]): boolean {
    return xids.some((xid) => this.recentCommits.has(xid));
  }

  /** The reader registers its rows before it writes the high watermark. */
  registerChunk(chunk: SnapshotChunk): Promise<void> {
    this.chunks.set(chunk.id, chunk);
    return new Promise<void>((resolve, reject) => this.waiting.set(chunk.id, { resolve, reject }));
  }

  /** Wraps the source: yields its frames, plus each chunk's surviving rows at its high mark. */
  async *interleave(frames: AsyncIterable<SourceFrame>): AsyncGenerator<SourceFrame> {
    for await (const frame of frames) {
      if (frame.kind === 'change' && this.windows.size > 0) {
        this.noteChange(frame.event);
      }
      if (frame.kind === 'commit') this.noteCommit(frame.txId);
      if (frame.kind === 'message' && frame.prefix === WATERMARK_PREFIX) {
        yield* this.onWatermark(JSON.parse(frame.content.toString('utf8')) as Watermark, frame.lsn);
        continue;
      }
      yield frame;
    }
  }

  /** Called when the transaction ending at lsn is durable in Kafka. */
  onDurable(lsn: Lsn): void {
    const entry = this.durable.get(lsn);
    if (!entry) return;
    this.durable.delete(lsn);
    const waiter = this.waiting.get(entry.chunk);
    this.waiting.delete(entry.chunk);
    waiter?.resolve();
  }

  /** The stream restarted: open windows are void; their readers must read their chunk again. */
  reset(reason: string): void {
    this.windows.clear();
    this.chunks.clear();
    this.durable.clear();
    for (const waiters of [this.waiting, this.lowSeen]) {
      for (const [id, waiter] of waiters)
        waiter.reject(new Error(`snapshot chunk ${id} abandoned: ${reason}`));
      waiters.clear();
    }
  }

  private noteCommit(txId: number): void {
    this.recentCommits.add(txId);
    // Bounded: only commits around the current low watermark matter.
    if (this.recentCommits.size > 200_000) {
      const oldest = this.recentCommits.values().next().value;
      if (oldest !== undefined) this.recentCommits.delete(oldest);
    }
  }

  private noteChange(event: ChangeEvent): void {
    for (const window of this.windows.values()) {
      const { schema, table } = window.watermark;
      if (event.source.schema !== schema || event.source.table !== table) continue;
      if (event.op === 't') {
        // A truncate inside the window: every row read may be gone; emit none of them.
        window.changedKeys.add('*');
      } else if (event.key) {
        window.changedKeys.add(canonicalJson(event.key));
      }
    }
  }

  private *onWatermark(watermark: Watermark, lsn: Lsn): Generator<SourceFrame> {
    if (watermark.mark === 'low') {
      this.windows.set(watermark.chunk, { watermark, changedKeys: new Set() });
      const waiter = this.lowSeen.get(watermark.chunk);
      this.lowSeen.delete(watermark.chunk);
      waiter?.resolve();
      return;
    }
    const window = this.windows.get(watermark.chunk);
    const chunk = this.chunks.get(watermark.chunk);
    this.windows.delete(watermark.chunk);
    this.chunks.delete(watermark.chunk);
    // A high mark without its window or rows is from before a restart: its reader retries.
    if (!window || !chunk) return;
    const commitTime = new Date().toISOString();
    let seq = 0;
    for (const row of chunk.rows) {
      const key: RowImage = {};
      for (const column of chunk.keyColumns) key[column] = row[column];
      if (window.changedKeys.has('*') || window.changedKeys.has(canonicalJson(key))) continue;
      yield {
        kind: 'change',
        event: {
          op: 'r',
          source: {
            db: chunk.database,
            schema: chunk.schema,
            table: chunk.table,
            lsn,
            commitLsn: lsn,
            txId: null,
            commitTime,
            seq: seq++,
          },
          key,
          before: null,
          after: row,
          unchangedToast: [],
        },
      };
    }
    this.durable.set(lsn, { resolve: () => undefined, chunk: chunk.id });
    yield { kind: 'commit', commitLsn: lsn, endLsn: lsn, txId: 0, changes: seq };
  }
}
