import {
  type ChangeEvent,
  compareLsn,
  type Envelope,
  EnvelopeError,
  type Lsn,
  qualifiedTable,
} from '@cdc-cache/core';
import type {
  ConsumedMessage,
  Consumer,
  ConsumerBatch,
  Producer,
  ProducerRecord,
  TopicAdmin,
} from '@cdc-cache/kafka';
import { backoffMs } from '@cdc-cache/runtime';
import type { ConsumerProgress } from './rebuild-supervisor.js';
import type { SearchSink, SinkLog } from './search-sink.js';
import { VersionRangeError } from './version.js';

/** Consumer metric updates the indexer makes (the metrics package's consumer metrics fit). */
export interface IndexerMetrics {
  eventsConsumed: { inc(labels: { group: string; table: string; op: string }, value?: number): void };
  eventsSkipped: { inc(labels: { group: string; reason: string }, value?: number): void };
  consumerLag: { set(labels: { group: string; topic: string; partition: string }, value: number): void };
  deadLetters: { inc(labels: { sink: string; reason: string }, value?: number): void };
}

export interface SearchIndexerOptions {
  /** A new consumer-group member; called again after the previous one stopped on an error. */
  createConsumer: (onError: (error: unknown) => void) => Consumer;
  /** Writes dead letters. */
  producer: Producer;
  admin: TopicAdmin;
  sink: SearchSink;
  envelope: Envelope;
  /** Kafka topic of each indexed table (schema.table -> topic). */
  topics: Map<string, string>;
  /** Where events that cannot be indexed go, with the reason in headers. */
  dlqTopic: string;
  groupId: string;
  /** Partitions of topics the indexer creates when they do not exist yet. */
  partitions: number;
  metrics?: IndexerMetrics;
  log?: SinkLog;
  /** How often consumer lag is read (default 5 s). */
  lagIntervalMs?: number;
  /** Called when the indexer cannot go on (an LSN too large for a version): exit. */
  onFatal?: (error: Error) => void;
}

export type IndexerState = 'starting' | 'consuming' | 'retrying' | 'stopped';

/** Dead-letter headers (the original message's headers are kept too). */
export const DLQ_HEADERS = {
  reason: 'cdc-cache.dlq.reason',
  error: 'cdc-cache.dlq.error',
  service: 'cdc-cache.dlq.service',
  topic: 'cdc-cache.dlq.topic',
  partition: 'cdc-cache.dlq.partition',
  offset: 'cdc-cache.dlq.offset',
} as const;

/**
 * The search-indexer's Kafka side: a consumer-group member that hands each partition batch to
 * the sink, dead-letters what cannot be indexed, and commits the batch's offset only after the
 * sink confirmed every write of it (and the dead letters are acknowledged). A consumer that
 * stops on an error is replaced after a backoff; it resumes from the committed offsets.
 */
export class SearchIndexer implements ConsumerProgress {
  private consumer: Consumer | null = null;
  private stopping = false;
  private lagTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private restarts = 0;
  private state: IndexerState = 'starting';
  private lastError: string | null = null;
  /** Newest commit LSN handled and committed, per topic and partition. */
  private readonly handled = new Map<string, Lsn>();
  private readonly tableOfTopic = new Map<string, string>();

  constructor(private readonly options: SearchIndexerOptions) {
    for (const [table, topic] of options.topics) this.tableOfTopic.set(topic, table);
  }

  get status(): { state: IndexerState; lastError: string | null } {
    return { state: this.state, lastError: this.lastError };
  }

  /** Creates missing topics (the tables' and the dead-letter topic), then starts consuming. */
  async start(): Promise<void> {
    await this.options.admin.ensureTopics(
      [...this.options.topics.values(), this.options.dlqTopic],
      this.options.partitions,
    );
    await this.options.producer.connect();
    await this.startConsumer();
    this.pollLag();
  }

  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    this.state = 'stopped';
    if (this.lagTimer) clearTimeout(this.lagTimer);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const consumer = this.consumer;
    this.consumer = null;
    // Batches in flight get a grace period; then the sink gives up on them (they are replayed).
    const leaving = consumer?.disconnect().catch(() => undefined) ?? Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([leaving, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    await this.options.sink.close();
    await leaving;
    await this.options.producer.disconnect().catch(() => undefined);
  }

  async passed(table: string, lsn: string): Promise<boolean> {
    const topic = this.options.topics.get(table);
    if (topic === undefined) return true;
    const lag = await this.options.admin.consumerLag(this.options.groupId, [topic]);
    return lag.every(({ partition, lag: behind }) => {
      if (behind === 0) return true;
      const done = this.handled.get(`${topic}:${partition}`);
      return done !== undefined && compareLsn(done, lsn) >= 0;
    });
  }

  private async startConsumer(): Promise<void> {
    const consumer = this.options.createConsumer((error) => this.onConsumerError(consumer, error));
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe([...this.options.topics.values()], { fromBeginning: true });
    await consumer.run((batch) => this.handle(consumer, batch));
    this.state = 'consuming';
    this.restarts = 0;
    this.options.log?.info(
      { groupId: this.options.groupId, topics: [...this.options.topics.values()] },
      'consuming',
    );
  }

  private onConsumerError(consumer: Consumer, error: unknown): void {
    if (this.stopping || consumer !== this.consumer) return;
    if (error instanceof VersionRangeError) {
      this.state = 'stopped';
      this.options.onFatal?.(error);
      return;
    }
    this.state = 'retrying';
    this.lastError = error instanceof Error ? error.message : String(error);
    const delay = backoffMs(this.restarts++);
    this.options.log?.error({ retryInMs: delay }, `consumer stopped: ${this.lastError}`);
    this.restartTimer = setTimeout(() => {
      void (async () => {
        await consumer.disconnect().catch(() => undefined);
        if (this.stopping) return;
        try {
          await this.startConsumer();
        } catch (restartError) {
          this.onConsumerError(this.consumer ?? consumer, restartError);
        }
      })();
    }, delay);
  }

  private async handle(consumer: Consumer, batch: ConsumerBatch): Promise<void> {
    const { groupId, metrics } = this.options;
    const events: ChangeEvent[] = [];
    const messages: ConsumedMessage[] = [];
    const dead: { message: ConsumedMessage; reason: string; error: string }[] = [];
    for (const message of batch.messages) {
      let event: ChangeEvent | null;
      try {
        event = this.options.envelope.decode(message.value, message.key);
      } catch (error) {
        if (!(error instanceof EnvelopeError)) throw error;
        dead.push({ message, reason: 'undecodable', error: error.message });
        continue;
      }
      if (event === null) {
        metrics?.eventsSkipped.inc({ group: groupId, reason: 'tombstone' });
        continue;
      }
      metrics?.eventsConsumed.inc({ group: groupId, table: qualifiedTable(event.source), op: event.op });
      events.push(event);
      messages.push(message);
    }
    const outcomes = await this.options.sink.apply(events);
    outcomes.forEach((outcome, index) => {
      if (outcome.status === 'failed') {
        dead.push({ message: messages[index]!, reason: 'rejected', error: outcome.reason });
      }
    });
    if (dead.length > 0) {
      await this.options.producer.send(dead.map((entry) => this.deadLetter(entry)));
      for (const entry of dead) {
        metrics?.deadLetters.inc({ sink: 'elasticsearch', reason: entry.reason });
        this.options.log?.warn(
          {
            topic: entry.message.topic,
            partition: entry.message.partition,
            offset: entry.message.offset,
            reason: entry.reason,
            dlqTopic: this.options.dlqTopic,
          },
          `dead-lettered: ${entry.error}`,
        );
      }
    }
    const last = batch.messages.at(-1);
    if (last === undefined) return;
    await consumer.commit(batch.topic, batch.partition, last.offset);
    let newest: Lsn | undefined;
    for (const event of events) {
      if (newest === undefined || compareLsn(event.source.commitLsn, newest) > 0)
        newest = event.source.commitLsn;
    }
    if (newest !== undefined) {
      const key = `${batch.topic}:${batch.partition}`;
      const before = this.handled.get(key);
      if (before === undefined || compareLsn(newest, before) > 0) this.handled.set(key, newest);
    }
  }

  private deadLetter(entry: { message: ConsumedMessage; reason: string; error: string }): ProducerRecord {
    const { message } = entry;
    return {
      topic: this.options.dlqTopic,
      key: message.key,
      value: message.value,
      headers: {
        ...message.headers,
        [DLQ_HEADERS.reason]: entry.reason,
        [DLQ_HEADERS.error]: entry.error.slice(0, 2_000),
        [DLQ_HEADERS.service]: 'search-indexer',
        [DLQ_HEADERS.topic]: message.topic,
        [DLQ_HEADERS.partition]: String(message.partition),
        [DLQ_HEADERS.offset]: message.offset,
      },
    };
  }

  private pollLag(): void {
    const { metrics, groupId } = this.options;
    const tick = async () => {
      try {
        const lag = await this.options.admin.consumerLag(groupId, [...this.options.topics.values()]);
        for (const { topic, partition, lag: behind } of lag) {
          metrics?.consumerLag.set({ group: groupId, topic, partition: String(partition) }, behind);
        }
      } catch {
        // Kafka is away: the consumer reports that; the gauge keeps its last value.
      }
      if (!this.stopping) this.lagTimer = setTimeout(() => void tick(), this.options.lagIntervalMs ?? 5_000);
    };
    void tick();
  }
}
