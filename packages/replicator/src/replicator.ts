import { type ChangeEvent, type Lsn, qualifiedTable } from '@cdc-cache/core';
import type { Producer, ProducerRecord } from '@cdc-cache/kafka';
import { FlushTracker, type SourceFrame } from '@cdc-cache/pg-source';

/** How an event becomes Kafka records (the envelope: cdc v1 or Debezium). */
export interface EventEncoder {
  topic(event: ChangeEvent): string;
  /**
   * The records for one event. A truncate has no key and must reach every partition so it
   * is ordered after every earlier change of every row: one record per partition.
   */
  records(event: ChangeEvent, partitions: number): ProducerRecord[];
}

export interface ReplicatorObserver {
  /** A transaction's events are all acknowledged by Kafka. */
  onTransactionDurable?(info: { endLsn: Lsn; commitTime: string; events: ChangeEvent[] }): void;
  onConfirm?(lsn: Lsn): void;
  onRelation?(info: { table: string; columns: string[] }): void;
  /** A logical message (heartbeat, snapshot watermark) passed through the stream in order. */
  onMessage?(message: { transactional: boolean; lsn: Lsn; prefix: string; content: Buffer }): void;
}

export interface ReplicatorOptions {
  producer: Producer;
  encoder: EventEncoder;
  /** Partition count of a topic (topics are created before the replicator starts). */
  partitionsOf: (topic: string) => number;
  /** Records per Kafka send; a transaction may span several sends. */
  maxBatchRecords?: number;
  /** Sends in flight before reading more from PostgreSQL (backpressure). */
  maxInFlightSends?: number;
  /** Confirm to PostgreSQL at most this often. */
  confirmIntervalMs?: number;
  observer?: ReplicatorObserver;
}

/** Where the replicator sends its confirmations: the source's confirm(). */
export interface ConfirmTarget {
  confirm(lsn: Lsn): void;
}

/** A batch being filled: its records, and the promise that it (and all before it) is durable. */
interface OpenBatch {
  records: ProducerRecord[];
  durable: Promise<void>;
  settle: (sent: Promise<void>) => void;
}

/**
 * The heart of "no lost change": events go to Kafka in WAL order, batched; each transaction's
 * end LSN is tracked against a promise that resolves only when its batch and every batch
 * before it are acknowledged (acks=all). The LSN confirmed to PostgreSQL is only ever the
 * highest such released position, so a crash anywhere replays and never skips.
 *
 * Batching adapts to the load: a batch is sent at a commit when a send slot is free (low
 * latency when the stream is slow); when all slots are busy, records keep accumulating and the
 * batch goes out as soon as a send completes (large batches when it is fast).
 */
export class Replicator {
  private readonly tracker: FlushTracker;
  private batch: OpenBatch | null = null;
  /** Resolves when every batch sent so far is acknowledged; rejects if any failed. */
  private allSent: Promise<void> = Promise.resolve();
  private readonly inFlight: Promise<void>[] = [];
  private transactionEvents: ChangeEvent[] = [];
  private inTransaction = false;
  private lastConfirmAt = 0;
  private stopped = false;

  constructor(
    private readonly options: ReplicatorOptions,
    startLsn: Lsn,
  ) {
    this.tracker = new FlushTracker(startLsn);
  }

  get safeLsn(): Lsn {
    return this.tracker.safeLsn;
  }

  /** Consumes the source until it ends or fails; throws the first failure (the caller restarts). */
  async run(frames: AsyncIterable<SourceFrame>, target: ConfirmTarget): Promise<void> {
    const confirmTimer = setInterval(() => this.confirm(target), this.options.confirmIntervalMs ?? 200);
    try {
      for await (const frame of frames) {
        this.throwIfFailed();
        await this.accept(frame);
        if (this.stopped) break;
        if (Date.now() - this.lastConfirmAt >= (this.options.confirmIntervalMs ?? 200)) this.confirm(target);
      }
      await this.flush();
      await this.allSent;
      this.throwIfFailed();
    } finally {
      clearInterval(confirmTimer);
      // Whatever is durable is confirmed, even on the way out.
      this.confirm(target);
    }
  }

  /** Stops after the current frame; run() then flushes and confirms what is durable. */
  stop(): void {
    this.stopped = true;
  }

  private async accept(frame: SourceFrame): Promise<void> {
    switch (frame.kind) {
      case 'change': {
        this.inTransaction = true;
        const { event } = frame;
        const topic = this.options.encoder.topic(event);
        const batch = this.openBatch();
        for (const record of this.options.encoder.records(event, this.options.partitionsOf(topic))) {
          batch.records.push(record);
        }
        this.transactionEvents.push(event);
        if (batch.records.length >= (this.options.maxBatchRecords ?? 1_000)) await this.flush();
        return;
      }
      case 'commit': {
        const events = this.transactionEvents;
        const commitTime = events[0]?.source.commitTime ?? new Date().toISOString();
        this.transactionEvents = [];
        this.inTransaction = false;
        // The transaction's records are in the open batch (or sent already): it is durable
        // when that batch and everything before it is.
        const durable = this.batch ? this.batch.durable : this.allSent;
        this.tracker.add(frame.endLsn, durable);
        if (this.inFlight.length < this.maxInFlight) this.sendBatch();
        if (this.options.observer?.onTransactionDurable) {
          const observer = this.options.observer;
          durable.then(
            () => observer.onTransactionDurable?.({ endLsn: frame.endLsn, commitTime, events }),
            () => undefined,
          );
        }
        return;
      }
      case 'keepalive':
        // Everything up to walEnd was sent by the server; once what we sent is durable, an
        // idle slot may advance to it (and retained WAL stays bounded).
        if (!this.inTransaction)
          this.tracker.add(frame.walEnd, this.batch ? this.batch.durable : this.allSent);
        return;
      case 'message':
        this.options.observer?.onMessage?.(frame);
        return;
      case 'relation':
        this.options.observer?.onRelation?.({
          table: qualifiedTable(frame.relation),
          columns: frame.relation.columns.map((column) => column.name),
        });
        return;
    }
  }

  private get maxInFlight(): number {
    return this.options.maxInFlightSends ?? 8;
  }

  private openBatch(): OpenBatch {
    if (this.batch) return this.batch;
    let settle!: (sent: Promise<void>) => void;
    const durable = new Promise<void>((resolve, reject) => {
      settle = (sent) => sent.then(resolve, reject);
    });
    durable.catch(() => undefined);
    this.batch = { records: [], durable, settle };
    return this.batch;
  }

  /** Sends the open batch now, if any. Synchronous, so a completing send can call it too. */
  private sendBatch(): void {
    const batch = this.batch;
    if (!batch || batch.records.length === 0) return;
    this.batch = null;
    const sent = this.options.producer.send(batch.records);
    // Chained: durable only when this send and every earlier one succeeded.
    const chained = Promise.all([this.allSent, sent]).then(() => undefined);
    chained.catch(() => undefined);
    this.allSent = chained;
    batch.settle(chained);
    this.inFlight.push(sent);
    sent.then(
      () => {
        this.inFlight.splice(this.inFlight.indexOf(sent), 1);
        // Records that waited for a free slot go now.
        this.sendBatch();
      },
      () => undefined,
    );
  }

  /** Sends the open batch and waits until a send slot is free (backpressure on the stream). */
  private async flush(): Promise<void> {
    this.sendBatch();
    while (this.inFlight.length >= this.maxInFlight) {
      await Promise.race(this.inFlight);
      this.throwIfFailed();
    }
  }

  private confirm(target: ConfirmTarget): void {
    this.lastConfirmAt = Date.now();
    const lsn = this.tracker.safeLsn;
    target.confirm(lsn);
    this.options.observer?.onConfirm?.(lsn);
  }

  private throwIfFailed(): void {
    if (this.tracker.failed !== null) throw this.tracker.failed;
  }
}
