import { CacheStoreError, describeVersion, type StoreName } from '@cdc-cache/cache-stores';
import { type ChangeEvent, type Envelope, qualifiedTable } from '@cdc-cache/core';
import type { ConsumedMessage, ConsumerBatch } from '@cdc-cache/kafka';
import type { createCacheMetrics, createConsumerMetrics } from '@cdc-cache/metrics';
import { backoffMs, type Logger } from '@cdc-cache/runtime';
import { type CacheOp, orderKey } from './cache-op.js';
import { KeyedScheduler } from './keyed-scheduler.js';
import type { OpRunner } from './op-runner.js';
import { type Plan, planEvent } from './plan.js';
import type { DeadLetter, DeadMessage, RetryEntry, RetryQueue } from './retry-queue.js';
import type { CompiledRule } from './rules.js';

export interface InvalidatorMetrics {
  consumer: ReturnType<typeof createConsumerMetrics>;
  cache: ReturnType<typeof createCacheMetrics>;
}

export interface CacheInvalidatorOptions {
  group: string;
  rules: Map<string, CompiledRule>;
  envelope: Envelope;
  runner: OpRunner;
  retry: RetryQueue;
  /** Operations in flight at once (different keys); one key's operations stay in order. */
  concurrency: number;
  metrics: InvalidatorMetrics;
  log: Logger;
}

/** Thrown by a batch that was interrupted by stop(): nothing after its last settled work is committed. */
export class StoppingError extends Error {
  constructor() {
    super('the cache-invalidator is stopping');
  }
}

/**
 * Turns batches of change events into cache operations and settles every one of them before
 * the batch's offset may be committed: an operation is settled when the store acknowledged
 * it, or it was handed to the retry queue (or the dead-letter queue). If neither the store nor
 * the queue answers, it keeps trying with backoff, and the batch (so the offset) waits.
 */
export class CacheInvalidator {
  private readonly scheduler: KeyedScheduler;
  private stopping = false;
  private readonly stores = new Map<StoreName, boolean>();

  constructor(private readonly options: CacheInvalidatorOptions) {
    this.scheduler = new KeyedScheduler(options.concurrency);
  }

  /** Handles one partition's batch; resolves with the offset to commit (the batch's last). */
  async handleBatch(batch: ConsumerBatch): Promise<string | null> {
    let pending: Promise<void>[] = [];
    for (const message of batch.messages) {
      if (this.stopping) throw new StoppingError();
      const decoded = await this.decode(message);
      if (decoded === null) continue;
      const { event, plan } = decoded;
      if (event.op === 't') {
        // Every earlier change of the table first, then the truncate, then the changes after it.
        await Promise.all(pending);
        pending = [];
        await Promise.all(plan.ops.map((op) => this.scheduler.run(orderKey(op), () => this.settle(op))));
        continue;
      }
      for (const op of plan.ops) pending.push(this.scheduler.run(orderKey(op), () => this.settle(op)));
    }
    await Promise.all(pending);
    return batch.messages.at(-1)?.offset ?? null;
  }

  /** Applies an entry of the retry queue; throws to let the queue retry it. */
  async handleEntry(entry: RetryEntry): Promise<void> {
    if (entry.kind === 'op') {
      await this.applyOp(entry.op);
      return;
    }
    const decoded = await this.decode(toConsumed(entry.message));
    if (decoded === null) return;
    await Promise.all(decoded.plan.ops.map((op) => this.applyOp(op)));
  }

  /** Stops taking batches; a batch in progress stops at its next step (and is not committed). */
  stop(): void {
    this.stopping = true;
  }

  /** Stores and whether their last operation succeeded. */
  storeHealth(): Map<StoreName, boolean> {
    return this.stores;
  }

  /** The event and its plan, or null when there is nothing to do (dead-lettered, skipped). */
  private async decode(message: ConsumedMessage): Promise<{ event: ChangeEvent; plan: Plan } | null> {
    const { consumer } = this.options.metrics;
    const group = this.options.group;
    let event: ChangeEvent | null;
    try {
      event = this.options.envelope.decode(message.value, message.key);
    } catch (error) {
      consumer.eventsSkipped.inc({ group, reason: 'undecodable' });
      await this.deadLetterMessage(message, 'envelope', (error as Error).message);
      return null;
    }
    if (event === null) {
      consumer.eventsSkipped.inc({ group, reason: 'tombstone' });
      return null;
    }
    const table = qualifiedTable(event.source);
    consumer.eventsConsumed.inc({ group, table, op: event.op });
    const rule = this.options.rules.get(table);
    if (rule === undefined) {
      consumer.eventsSkipped.inc({ group, reason: 'no_rule' });
      return null;
    }
    const plan = planEvent(event, rule);
    for (const problem of plan.problems) {
      this.options.log.warn(
        {
          table,
          topic: message.topic,
          partition: message.partition,
          offset: message.offset,
          reason: problem.reason,
        },
        `dead letter: ${problem.message}`,
      );
      await this.deadLetterMessage(message, problem.reason, problem.message);
    }
    return { event, plan };
  }

  /** One operation, until it is acknowledged or handed over; never rejects unless stopping. */
  private async settle(op: CacheOp): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.stopping) throw new StoppingError();
      let failure: unknown;
      try {
        await this.applyOp(op);
        return;
      } catch (error) {
        failure = error;
      }
      const invalid = failure instanceof CacheStoreError && failure.code === 'KEY_INVALID';
      try {
        if (invalid) {
          await this.deadLetterOp(op, 'key-invalid', (failure as Error).message);
        } else {
          await this.options.retry.add({ kind: 'op', op });
          this.options.metrics.consumer.retries.inc({ sink: op.store });
        }
        return;
      } catch (error) {
        // Neither the store nor the retry queue took it: keep it (and the offset) and try again.
        const delay = backoffMs(attempt, 200, 5000);
        this.options.log.warn(
          { store: op.store, table: op.table, retryInMs: delay },
          `cache operation not acknowledged and retry queue unavailable: ${(failure as Error).message}; ${(error as Error).message}`,
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async applyOp(op: CacheOp): Promise<void> {
    const { cache, consumer } = this.options.metrics;
    try {
      const result = await this.options.runner.apply(op);
      this.stores.set(op.store, true);
      consumer.sinkUp.set({ sink: op.store }, 1);
      cache.cacheOps.inc({
        store: op.store,
        action: result.action,
        result: result.outcome === 'applied' ? 'ok' : 'stale',
      });
      consumer.endToEnd.observe(
        { sink: op.store },
        Math.max(0, (Date.now() - Date.parse(op.commitTime)) / 1000),
      );
      if (result.outcome === 'truncated') {
        consumer.eventsSkipped.inc({ group: this.options.group, reason: 'before_truncate' });
      }
    } catch (error) {
      cache.cacheOps.inc({ store: op.store, action: op.kind, result: 'error' });
      if (error instanceof CacheStoreError && error.code === 'STORE_UNAVAILABLE') {
        this.stores.set(op.store, false);
        consumer.sinkUp.set({ sink: op.store }, 0);
      }
      this.options.log.debug(
        { store: op.store, table: op.table, version: describeVersion(op.version) },
        (error as Error).message,
      );
      throw error;
    }
  }

  private async deadLetterOp(op: CacheOp, reason: string, message: string): Promise<void> {
    // Counted in cdc_cache_dead_letters_total by the retry queue.
    await this.options.retry.deadLetter(letter({ kind: 'op', op }, reason, message));
  }

  /** Dead-letters a message, waiting for Redis if it must (the offset is not committed before). */
  private async deadLetterMessage(message: ConsumedMessage, reason: string, text: string): Promise<void> {
    const entry: RetryEntry = { kind: 'event', message: deadMessage(message) };
    for (let attempt = 0; ; attempt++) {
      if (this.stopping) throw new StoppingError();
      try {
        await this.options.retry.deadLetter(letter(entry, reason, text));
        return;
      } catch (error) {
        const delay = backoffMs(attempt, 200, 5000);
        this.options.log.warn(
          { retryInMs: delay },
          `dead-letter queue unavailable: ${(error as Error).message}`,
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}

function letter(entry: RetryEntry, reason: string, message: string): Omit<DeadLetter, 'id'> {
  return { entry, reason, message, attempts: 1, failedAt: new Date().toISOString() };
}

function deadMessage(message: ConsumedMessage): DeadMessage {
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: message.key === null ? null : message.key.toString('utf8'),
    value: message.value === null ? null : message.value.toString('utf8'),
  };
}

function toConsumed(message: DeadMessage): ConsumedMessage {
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: message.key === null ? null : Buffer.from(message.key, 'utf8'),
    value: message.value === null ? null : Buffer.from(message.value, 'utf8'),
    headers: {},
    timestamp: '0',
  };
}
