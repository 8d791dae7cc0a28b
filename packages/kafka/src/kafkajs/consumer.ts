import type { IHeaders, Consumer as KafkaJSClient, KafkaMessage } from 'kafkajs';
import { describeFailure } from '../errors.js';
import { type ConsumerOptions, defaults, reportToStderr } from '../options.js';
import type { ConsumedMessage, Consumer, ConsumerBatch, KafkaConnection } from '../types.js';
import { kafkaClient } from './connection.js';

/**
 * Consumer-group member on KafkaJS: `eachBatch` hands one partition's messages at a time,
 * the next fetch of a partition waits for its handler, partitions run concurrently, and
 * `autoCommit: false` leaves commits to commit(). KafkaJS heartbeats from its fetch loop,
 * so a handler that runs longer than the session timeout loses the membership.
 */
export class KafkaJSConsumer implements Consumer {
  private client: KafkaJSClient | null = null;
  private assigned = new Map<string, Set<number>>();
  private failed = false;
  private readonly onError: (error: unknown) => void;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly options: ConsumerOptions,
  ) {
    this.onError = options.onError ?? reportToStderr;
  }

  async connect(): Promise<void> {
    if (this.client !== null) return;
    this.failed = false;
    const client = kafkaClient(this.connection).consumer({
      groupId: this.options.groupId,
      sessionTimeout: this.options.sessionTimeoutMs ?? defaults.sessionTimeoutMs,
      heartbeatInterval: defaults.heartbeatIntervalMs,
      maxWaitTimeInMs: this.options.maxWaitTimeMs ?? defaults.maxWaitTimeMs,
      maxBytes: defaults.maxBytes,
      maxBytesPerPartition: defaults.maxBytesPerPartition,
      allowAutoTopicCreation: false,
    });
    client.on(client.events.GROUP_JOIN, ({ payload }) => {
      this.assigned = new Map(
        Object.entries(payload.memberAssignment).map(([topic, partitions]) => [topic, new Set(partitions)]),
      );
    });
    client.on(client.events.CRASH, ({ payload }) => {
      if (!payload.restart) this.fail(describeFailure(this.connection.brokers, payload.error));
    });
    try {
      await client.connect();
    } catch (error) {
      await client.disconnect().catch(() => undefined);
      throw describeFailure(this.connection.brokers, error);
    }
    this.client = client;
  }

  async subscribe(topics: string[] | RegExp, options: { fromBeginning?: boolean } = {}): Promise<void> {
    const client = this.requireClient();
    try {
      await client.subscribe({
        topics: topics instanceof RegExp ? [topics] : topics,
        fromBeginning: options.fromBeginning,
      });
    } catch (error) {
      throw describeFailure(this.connection.brokers, error);
    }
  }

  async run(handler: (batch: ConsumerBatch) => Promise<void>): Promise<void> {
    const client = this.requireClient();
    const maxBatchSize = this.options.maxBatchSize ?? defaults.maxBatchSize;
    try {
      await client.run({
        autoCommit: false,
        partitionsConsumedConcurrently: 64,
        eachBatch: async ({ batch, isRunning, isStale }) => {
          for (let start = 0; start < batch.messages.length; start += maxBatchSize) {
            // Stopped, failed, or moved by a rebalance: the rest comes again from the committed offset.
            if (this.failed || !isRunning() || isStale()) return;
            const messages = batch.messages
              .slice(start, start + maxBatchSize)
              .map((message) => toConsumed(batch.topic, batch.partition, message));
            try {
              await handler({ topic: batch.topic, partition: batch.partition, messages });
            } catch (error) {
              this.fail(error);
              return;
            }
          }
        },
      });
    } catch (error) {
      throw describeFailure(this.connection.brokers, error);
    }
  }

  async commit(topic: string, partition: number, offset: string): Promise<void> {
    const client = this.requireClient();
    // The group protocol does not stop a member committing a partition it lost in a
    // rebalance; that would move the new owner's offset. Its new owner commits instead.
    if (!this.assigned.get(topic)?.has(partition)) return;
    try {
      await client.commitOffsets([{ topic, partition, offset: (BigInt(offset) + 1n).toString() }]);
    } catch (error) {
      throw describeFailure(this.connection.brokers, error);
    }
  }

  async disconnect(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.assigned = new Map();
    await client?.disconnect();
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    // Stop fetching; stop() waits for running batches, so not from inside one.
    const client = this.client;
    setImmediate(() => {
      client?.stop().catch(() => undefined);
    });
    this.onError(error);
  }

  private requireClient(): KafkaJSClient {
    if (this.client === null) throw new Error('Consumer used before connect()');
    return this.client;
  }
}

function toConsumed(topic: string, partition: number, message: KafkaMessage): ConsumedMessage {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key ?? null,
    value: message.value ?? null,
    headers: headersToStrings(message.headers),
    timestamp: message.timestamp,
  };
}

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (headers === undefined) return result;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) result[name] = last.toString();
  }
  return result;
}
