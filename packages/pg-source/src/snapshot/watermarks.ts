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
    for (const [id, waiter] of this.waiting) {
      waiter.reject(new Error(`snapshot chunk ${id} abandoned: ${reason}`));
    }
    this.waiting.clear();
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
