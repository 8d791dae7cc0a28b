import type { ConsumedMessage, ConsumerBatch } from './types.js';

/**
 * Turns a stream of fetched messages (in order per partition, partitions interleaved) into
 * handler calls: one partition's messages per batch, the next batch of a partition only
 * after the handler of the previous one resolved; partitions run concurrently. Used by
 * clients that deliver messages one by one.
 *
 * After a rebalance a client may fetch again from the committed offset what is already
 * buffered here: messages at or below the last offset seen for a partition are skipped, so
 * the handler never sees a partition go backwards while it owns it.
 */
export class PartitionBatchRunner {
  private readonly partitions = new Map<string, PartitionState>();
  private buffered = 0;
  private paused = false;
  private stopped = false;

  constructor(
    private readonly options: {
      handler: (batch: ConsumerBatch) => Promise<void>;
      maxBatchSize: number;
      /** Above this many buffered messages the source is paused; it resumes at half. */
      maxBuffered: number;
      pause(): void;
      resume(): void;
      /** The handler threw: the runner has stopped. */
      onError(error: unknown): void;
    },
  ) {}

  push(message: ConsumedMessage): void {
    if (this.stopped) return;
    const key = `${message.topic}\u0000${message.partition}`;
    let state = this.partitions.get(key);
    if (state === undefined) {
      state = {
        topic: message.topic,
        partition: message.partition,
        queue: [],
        lastOffset: -1n,
        draining: null,
      };
      this.partitions.set(key, state);
    }
    const offset = BigInt(message.offset);
    if (offset <= state.lastOffset) return;
    state.lastOffset = offset;
    state.queue.push(message);
    this.buffered++;
    if (!this.paused && this.buffered >= this.options.maxBuffered) {
      this.paused = true;
      this.options.pause();
    }
    if (state.draining === null) state.draining = this.drain(state);
  }

  /** Forgets buffered messages of partitions this member no longer owns. */
  retain(isAssigned: (topic: string, partition: number) => boolean): void {
    for (const state of this.partitions.values()) {
      if (isAssigned(state.topic, state.partition)) continue;
      this.buffered -= state.queue.length;
      state.queue.length = 0;
      // If it comes back, it comes back from the committed offset.
      state.lastOffset = -1n;
    }
    this.resumeIfDrained();
  }

  /** Stops handing out batches; resolves when running handlers have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const state of this.partitions.values()) state.queue.length = 0;
    this.buffered = 0;
    await Promise.all([...this.partitions.values()].map((state) => state.draining));
  }

  private async drain(state: PartitionState): Promise<void> {
    while (state.queue.length > 0 && !this.stopped) {
      const messages = state.queue.splice(0, this.options.maxBatchSize);
      this.buffered -= messages.length;
      this.resumeIfDrained();
      try {
        await this.options.handler({ topic: state.topic, partition: state.partition, messages });
      } catch (error) {
        if (!this.stopped) {
          this.stopped = true;
          this.options.onError(error);
        }
      }
    }
    state.draining = null;
  }

  private resumeIfDrained(): void {
    if (this.paused && !this.stopped && this.buffered <= this.options.maxBuffered / 2) {
      this.paused = false;
      this.options.resume();
    }
  }
}

interface PartitionState {
  topic: string;
  partition: number;
  queue: ConsumedMessage[];
  lastOffset: bigint;
  draining: Promise<void> | null;
}
