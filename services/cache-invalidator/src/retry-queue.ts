import { CacheStoreError, isStoreUnavailable } from '@cdc-cache/cache-stores';
import { backoffMs } from '@cdc-cache/runtime';
import { DelayedError, type Job, Queue, Worker } from 'bullmq';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { CacheOp } from './cache-op.js';

/** A Kafka message that could not be turned into operations (or only partly), kept whole for replay. */
export interface DeadMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
}

/** What the retry queue holds: an operation to apply again, or a whole event to plan again (a replayed dead letter). */
export type RetryEntry = { kind: 'op'; op: CacheOp } | { kind: 'event'; message: DeadMessage };

export interface DeadLetter {
  id: string;
  entry: RetryEntry;
  /** Short reason code (metric label): key-render, before-image, envelope, attempts-exhausted, key-invalid. */
  reason: string;
  /** The last error, one line. */
  message: string;
  attempts: number;
  failedAt: string;
}

export interface QueueConnection {
  /** The Redis of stores.redis. */
  url: string;
  password?: string;
  /** BullMQ key prefix (`{cdc-cache}` style hash tags keep a queue in one Redis Cluster slot). */
  prefix: string;
  /** Names the queues: `<group>-retry` and `<group>-dead-letter`. */
  group: string;
  /** Redis Cluster (stores.redis.cluster): `url` is one node of it. */
  cluster?: boolean;
}

function redisFor(connection: QueueConnection, options: RedisOptions): Redis | Cluster {
  const redisOptions: RedisOptions = { password: connection.password, lazyConnect: true, ...options };
  const url = new URL(connection.url);
  const redis = connection.cluster
    ? new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
        redisOptions,
        lazyConnect: true,
      })
    : new Redis(connection.url, redisOptions);
  redis.on('error', () => undefined);
  return redis;
}

function queueNames(connection: QueueConnection) {
  return { retry: `${connection.group}-retry`, deadLetter: `${connection.group}-dead-letter` };
}

/**
 * The dead-letter queue: a BullMQ queue nobody consumes. Entries stay until listed and replayed
 * (`replay` moves them to the retry queue, where an invalidator applies them) or removed.
 */
export class DeadLetterQueue {
  readonly queue: Queue;
  private readonly retry: Queue;
  private readonly redis: Redis | Cluster;

  constructor(connection: QueueConnection) {
    // Fail fast while Redis is away: the caller keeps the work and tries again.
    this.redis = redisFor(connection, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      commandTimeout: 3000,
    });
    const names = queueNames(connection);
    this.queue = new Queue(names.deadLetter, { connection: this.redis, prefix: connection.prefix });
    this.retry = new Queue(names.retry, { connection: this.redis, prefix: connection.prefix });
    this.queue.on('error', () => undefined);
    this.retry.on('error', () => undefined);
  }

  async add(letter: Omit<DeadLetter, 'id'>): Promise<string> {
    const job = await this.queue.add(letter.reason, letter, { removeOnComplete: true });
    return job.id ?? '';
  }

  async list(limit = 1000): Promise<DeadLetter[]> {
    const jobs = await this.queue.getJobs(
      ['waiting', 'paused', 'delayed', 'prioritized'],
      0,
      limit - 1,
      true,
    );
    return jobs.map((job) => ({ ...(job.data as Omit<DeadLetter, 'id'>), id: job.id ?? '' }));
  }

  async count(): Promise<number> {
    return this.queue.getJobCountByTypes('waiting', 'paused', 'delayed', 'prioritized');
  }

  /** Moves dead letters (all, or those with the given ids) back to the retry queue; returns how many. */
  async replay(ids?: readonly string[]): Promise<number> {
    const letters = await this.list(100_000);
    let replayed = 0;
    for (const letter of letters) {
      if (ids !== undefined && !ids.includes(letter.id)) continue;
      await this.retry.add(letter.entry.kind, letter.entry, { removeOnComplete: true, removeOnFail: 1000 });
      await this.queue.remove(letter.id);
      replayed++;
    }
    return replayed;
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    await this.retry.close().catch(() => undefined);
    this.redis.disconnect();
  }
}

export interface RetryQueueOptions {
  connection: QueueConnection;
  /** Attempts in all, the consumer's first one included. */
  attempts: number;
  backoffMs: number;
  concurrency?: number;
  /** Applies an entry; throws to retry (STORE_UNAVAILABLE waits without using an attempt up). */
  handle(entry: RetryEntry): Promise<void>;
  onRetry?(entry: RetryEntry, error: unknown): void;
  onDeadLetter?(letter: Omit<DeadLetter, 'id'>): void;
}

/**
 * The retry queue (BullMQ): failed operations wait here with exponential backoff; after the
 * configured attempts they become dead letters. While a store is unavailable its operations
 * are delayed without using attempts up, so an outage ends in recovery, not in dead letters.
 */
export class RetryQueue {
  readonly deadLetters: DeadLetterQueue;
  private readonly queue: Queue;
  private readonly producerRedis: Redis | Cluster;
  private worker: Worker | null = null;
  private workerRedis: Redis | Cluster | null = null;

  constructor(private readonly options: RetryQueueOptions) {
    this.producerRedis = redisFor(options.connection, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      commandTimeout: 3000,
    });
    this.queue = new Queue(queueNames(options.connection).retry, {
      connection: this.producerRedis,
      prefix: options.connection.prefix,
    });
    this.queue.on('error', () => undefined);
    this.deadLetters = new DeadLetterQueue(options.connection);
  }

  /** Hands a failed operation over; resolves once Redis has it (then its offset may be committed). */
  async add(entry: RetryEntry): Promise<void> {
    const delay = this.options.backoffMs;
    await this.queue.add(entry.kind, entry, {
      attempts: Math.max(1, this.options.attempts - 1),
      backoff: { type: 'exponential', delay },
      delay,
      removeOnComplete: true,
      removeOnFail: 1000,
    });
  }

  async deadLetter(letter: Omit<DeadLetter, 'id'>): Promise<void> {
    await this.deadLetters.add(letter);
    this.options.onDeadLetter?.(letter);
  }

  startWorker(): void {
    if (this.worker !== null) return;
    // Workers block on Redis: BullMQ needs maxRetriesPerRequest null on their connection.
    this.workerRedis = redisFor(this.options.connection, { maxRetriesPerRequest: null });
    this.worker = new Worker(
      queueNames(this.options.connection).retry,
      (job, token) => this.process(job, token),
      {
        connection: this.workerRedis,
        prefix: this.options.connection.prefix,
        concurrency: this.options.concurrency ?? 16,
      },
    );
    this.worker.on('error', () => undefined);
  }

  async close(): Promise<void> {
    await this.worker?.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    await this.deadLetters.close();
    this.workerRedis?.disconnect();
    this.producerRedis.disconnect();
  }

  private async process(job: Job, token: string | undefined): Promise<void> {
    const entry = job.data as RetryEntry;
    try {
      await this.options.handle(entry);
    } catch (error) {
      if (isStoreUnavailable(error)) {
        await job.moveToDelayed(Date.now() + backoffMs(2, 500, 5000), token);
        throw new DelayedError();
      }
      const attempts = (job.opts.attempts ?? 1) + 1; // the consumer's attempt came first
      const final = job.attemptsMade + 2 >= attempts;
      const invalid = error instanceof CacheStoreError && error.code === 'KEY_INVALID';
      if (final || invalid) {
        await this.deadLetter({
          entry,
          reason: invalid ? 'key-invalid' : 'attempts-exhausted',
          message: error instanceof Error ? error.message : String(error),
          attempts: job.attemptsMade + 2,
          failedAt: new Date().toISOString(),
        });
        return;
      }
      this.options.onRetry?.(entry, error);
      throw error;
    }
  }
}
