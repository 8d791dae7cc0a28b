import { type CacheStore, createStores, type StoreName } from '@cdc-cache/cache-stores';
import { type Config, envelopeNamed, topicFor } from '@cdc-cache/core';
import {
  type Consumer,
  createConsumer,
  createTopicAdmin,
  type KafkaConnection,
  type TopicAdmin,
} from '@cdc-cache/kafka';
import type { Readiness } from '@cdc-cache/metrics';
import { backoffMs, type Logger } from '@cdc-cache/runtime';
import { CacheInvalidator, type InvalidatorMetrics, StoppingError } from './invalidator.js';
import { OpRunner } from './op-runner.js';
import { type QueueConnection, RetryQueue } from './retry-queue.js';
import { compileRules } from './rules.js';

/** Where the retry and dead-letter queues live for a configuration (the Redis of stores.redis). */
export function queueConnection(config: Config): QueueConnection {
  const redis = config.stores.redis;
  if (redis === undefined) {
    throw new Error(
      'the cache-invalidator keeps its retry and dead-letter queues in Redis: add a stores.redis section',
    );
  }
  return {
    url: redis.url,
    password: redis.password,
    // A hash tag: a queue's keys stay in one slot of a Redis Cluster.
    prefix: `${redis.keyPrefix}{cdc-cache}`,
    group: config.services.cacheInvalidator.groupId,
    cluster: redis.cluster,
  };
}

/**
 * The cache-invalidator process: a consumer-group member that applies change events to the
 * stores, a worker of the retry queue, a store health check, and consumer lag metrics.
 */
export class CacheInvalidatorService {
  private readonly stores: Partial<Record<StoreName, CacheStore>>;
  private readonly invalidator: CacheInvalidator;
  private readonly retry: RetryQueue;
  private readonly admin: TopicAdmin;
  private readonly connection: KafkaConnection;
  private readonly topics: string[];
  private readonly group: string;
  private consumer: Consumer | null = null;
  private consuming = false;
  private stopped = false;
  private readonly activeBatches = new Set<Promise<void>>();
  private readonly commits = new Map<string, { next: string | null; done: Promise<void> }>();
  private readonly storeUp = new Map<StoreName, string>();
  private timers: NodeJS.Timeout[] = [];
  private restart: Promise<void> | null = null;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly metrics: InvalidatorMetrics,
  ) {
    this.stores = createStores(config.stores);
    const rules = compileRules(config.rules, this.stores);
    const runner = new OpRunner(this.stores);
    this.group = config.services.cacheInvalidator.groupId;
    const settings = config.services.cacheInvalidator;
    this.retry = new RetryQueue({
      connection: queueConnection(config),
      attempts: settings.retry.attempts,
      backoffMs: settings.retry.backoffMs,
      handle: (entry) => this.invalidator.handleEntry(entry),
      onRetry: (entry) =>
        metrics.consumer.retries.inc({ sink: entry.kind === 'op' ? entry.op.store : 'cache' }),
      onDeadLetter: (letter) =>
        metrics.consumer.deadLetters.inc({
          sink: letter.entry.kind === 'op' ? letter.entry.op.store : 'cache',
          reason: letter.reason,
        }),
    });
    this.invalidator = new CacheInvalidator({
      group: this.group,
      rules,
      envelope: envelopeNamed(config.envelope, { topicPrefix: config.kafka.topicPrefix }),
      runner,
      retry: this.retry,
      concurrency: settings.concurrency,
      metrics,
      log,
    });
    this.connection = {
      brokers: config.kafka.brokers,
      clientId: `${config.kafka.clientId}-cache-invalidator`,
    };
    this.admin = createTopicAdmin(this.connection);
    // Every captured table: events of a table without a rule are counted and skipped.
    this.topics = config.source.postgres.tables.map((name) => {
      const [schema, table] = name.split('.') as [string, string];
      return topicFor(config.kafka.topicPrefix, schema, table);
    });
  }

  /** Starts everything; resolves once consuming (Kafka may be down at first: retried). */
  async start(): Promise<void> {
    this.timers.push(setInterval(() => void this.checkStores(), 2000));
    this.timers.push(setInterval(() => void this.updateLag(), 5000));
    void this.checkStores();
    this.retry.startWorker();
    await this.startConsumer();
  }

  readiness(): Readiness {
    const detail: Record<string, string> = { consumer: this.consuming ? 'consuming' : 'not consuming' };
    let ready = this.consuming;
    for (const name of Object.keys(this.stores) as StoreName[]) {
      const state = this.storeUp.get(name) ?? 'not checked yet';
      detail[name] = state;
      if (state !== 'up') ready = false;
    }
    return { ready, detail };
  }

  /** Drain: stop taking batches, let running ones finish (and commit), then close everything. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    // Running batches finish and commit if they can within 10 s; then they stop uncommitted (replayed later).
    await Promise.race([
      Promise.allSettled([...this.activeBatches]),
      new Promise((resolve) => setTimeout(resolve, 10_000).unref()),
    ]);
    this.invalidator.stop();
    await Promise.allSettled([...this.activeBatches]);
    await Promise.allSettled([...this.commits.values()].map((entry) => entry.done));
    await this.consumer?.disconnect().catch(() => undefined);
    await this.retry.close();
    await this.admin.disconnect().catch(() => undefined);
    await Promise.all(Object.values(this.stores).map((store) => store.close()));
  }

  private async startConsumer(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      const consumer = createConsumer(this.connection, {
        groupId: this.group,
        sessionTimeoutMs: this.config.services.cacheInvalidator.sessionTimeoutMs,
        onError: (error) => this.onConsumerError(consumer, error),
      });
      try {
        await this.admin.connect();
        await this.admin.ensureTopics(this.topics, this.config.kafka.partitions);
        await consumer.connect();
        await consumer.subscribe(this.topics, { fromBeginning: true });
        await consumer.run((batch) => this.runBatch(consumer, batch));
        this.consumer = consumer;
        this.consuming = true;
        this.log.info({ topics: this.topics, group: this.group }, 'consuming');
        return;
      } catch (error) {
        await consumer.disconnect().catch(() => undefined);
        const delay = backoffMs(attempt);
        this.log.error({ retryInMs: delay }, (error as Error).message);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private runBatch(consumer: Consumer, batch: Parameters<Parameters<Consumer['run']>[0]>[0]): Promise<void> {
    if (this.stopped) return Promise.reject(new StoppingError());
    const work = (async () => {
      const offset = await this.invalidator.handleBatch(batch);
      // Every operation of the batch is settled: its offset may be committed. The commit runs
      // beside the next batch (commits of a partition stay in order, coalesced), so a round
      // trip to Kafka does not stall the partition.
      if (offset !== null) this.commitInOrder(consumer, batch.topic, batch.partition, offset);
    })();
    const tracked = work.then(
      () => undefined,
      () => undefined,
    );
    this.activeBatches.add(tracked);
    void tracked.then(() => this.activeBatches.delete(tracked));
    return work;
  }

  private commitInOrder(consumer: Consumer, topic: string, partition: number, offset: string): void {
    const id = `${topic}\u0000${partition}`;
    const state = this.commits.get(id);
    if (state !== undefined) {
      state.next = offset;
      return;
    }
    const entry: { next: string | null; done: Promise<void> } = { next: offset, done: Promise.resolve() };
    this.commits.set(id, entry);
    entry.done = (async () => {
      while (entry.next !== null) {
        const next = entry.next;
        entry.next = null;
        try {
          await consumer.commit(topic, partition, next);
        } catch (error) {
          // The next commit of the partition covers this one; after a crash the events are replayed.
          this.log.warn(
            { topic, partition, offset: next },
            `offset commit failed: ${(error as Error).message}`,
          );
        }
      }
      this.commits.delete(id);
    })();
  }

  private onConsumerError(consumer: Consumer, error: unknown): void {
    if (this.stopped || error instanceof StoppingError) return;
    this.consuming = false;
    this.log.error({ err: error }, `consumer stopped: ${(error as Error).message}; reconnecting`);
    if (this.restart !== null) return;
    this.restart = (async () => {
      await consumer.disconnect().catch(() => undefined);
      if (this.consumer === consumer) this.consumer = null;
      await this.startConsumer();
    })().finally(() => {
      this.restart = null;
    });
  }

  private async checkStores(): Promise<void> {
    await Promise.all(
      (Object.entries(this.stores) as [StoreName, CacheStore][]).map(async ([name, store]) => {
        try {
          await store.ping();
          if (this.storeUp.get(name) !== 'up') this.log.info({ store: name }, `${name} is up`);
          this.storeUp.set(name, 'up');
          this.metrics.consumer.sinkUp.set({ sink: name }, 1);
        } catch (error) {
          if (this.storeUp.get(name) === 'up') this.log.error({ store: name }, (error as Error).message);
          this.storeUp.set(name, (error as Error).message);
          this.metrics.consumer.sinkUp.set({ sink: name }, 0);
        }
      }),
    );
  }

  private async updateLag(): Promise<void> {
    try {
      const lags = await this.admin.consumerLag(this.group, this.topics);
      for (const { topic, partition, lag } of lags) {
        this.metrics.consumer.consumerLag.set(
          { group: this.group, topic, partition: String(partition) },
          lag,
        );
      }
    } catch (error) {
      this.log.debug(`consumer lag not read: ${(error as Error).message}`);
    }
  }
}
