import {
  Admin,
  type Message,
  type MessagesStream,
  Consumer as PlatformaticClient,
  stringDeserializer,
} from '@platformatic/kafka';
import { describeFailure } from '../errors.js';
import { type ConsumerOptions, defaults, reportToStderr } from '../options.js';
import { PartitionBatchRunner } from '../partition-batch-runner.js';
import type { ConsumedMessage, Consumer, ConsumerBatch, KafkaConnection } from '../types.js';
import { baseOptions, closeForcibly } from './connection.js';

type Client = PlatformaticClient<Buffer, Buffer, string, string>;

/**
 * Consumer-group member on @platformatic/kafka (classic group protocol). The client streams
 * messages one by one with autocommit off; PartitionBatchRunner makes per-partition batches
 * and awaits the handler before the next batch of a partition. The client heartbeats on a
 * timer, so a slow handler does not cost the membership.
 */
export class PlatformaticConsumer implements Consumer {
  private client: Client | null = null;
  private stream: MessagesStream<Buffer, Buffer, string, string> | null = null;
  private runner: PartitionBatchRunner | null = null;
  private topics: string[] = [];
  private fromBeginning = false;
  private readonly onError: (error: unknown) => void;
  private failed = false;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly options: ConsumerOptions,
  ) {
    this.onError = options.onError ?? reportToStderr;
  }

  async connect(): Promise<void> {
    if (this.client !== null) return;
    this.failed = false;
    const client = new PlatformaticClient<Buffer, Buffer, string, string>({
      ...baseOptions(this.connection),
      groupId: this.options.groupId,
      autocommit: false,
      sessionTimeout: this.options.sessionTimeoutMs ?? defaults.sessionTimeoutMs,
      heartbeatInterval: defaults.heartbeatIntervalMs,
      maxWaitTime: this.options.maxWaitTimeMs ?? defaults.maxWaitTimeMs,
      maxBytes: defaults.maxBytes,
      maxBytesPerPartition: defaults.maxBytesPerPartition,
      deserializers: { headerKey: stringDeserializer, headerValue: stringDeserializer },
    });
    // Failures of background group work (rejoin after a rebalance) are emitted, not thrown.
    client.on('error', (error: unknown) => this.fail(error));
    try {
      await client.metadata({ topics: [] });
    } catch (error) {
      await closeForcibly(client).catch(() => undefined);
      throw describeFailure(this.connection.brokers, error);
    }
    this.client = client;
  }

  async subscribe(topics: string[] | RegExp, options: { fromBeginning?: boolean } = {}): Promise<void> {
    if (topics instanceof RegExp) {
      // Like KafkaJS: a pattern matches the topics that exist now.
      const admin = new Admin(baseOptions(this.connection));
      try {
        const names = await admin.listTopics();
        this.topics.push(...names.filter((name) => topics.test(name)));
      } catch (error) {
        throw describeFailure(this.connection.brokers, error);
      } finally {
        await admin.close().catch(() => undefined);
      }
    } else {
      this.topics.push(...topics);
    }
    this.fromBeginning = options.fromBeginning ?? false;
  }

  async run(handler: (batch: ConsumerBatch) => Promise<void>): Promise<void> {
    const client = this.requireClient();
    let stream: MessagesStream<Buffer, Buffer, string, string>;
    try {
      stream = await client.consume({
        topics: this.topics,
        autocommit: false,
        mode: 'committed',
        fallbackMode: this.fromBeginning ? 'earliest' : 'latest',
      });
    } catch (error) {
      throw describeFailure(this.connection.brokers, error);
    }
    const runner = new PartitionBatchRunner({
      handler,
      maxBatchSize: this.options.maxBatchSize ?? defaults.maxBatchSize,
      maxBuffered: defaults.maxBuffered,
      pause: () => stream.pause(),
      resume: () => stream.resume(),
      onError: (error) => {
        stream.pause();
        this.fail(error);
      },
    });
    client.on('consumer:group:join', () => runner.retain((topic, partition) => this.owns(topic, partition)));
    stream.on('data', (message: Message<Buffer, Buffer, string, string>) => {
      // Fetched before a rebalance took the partition away: its new owner handles it.
      if (this.owns(message.topic, message.partition)) runner.push(toConsumed(message));
    });
    stream.on('error', (error: unknown) => this.fail(describeFailure(this.connection.brokers, error)));
    this.stream = stream;
    this.runner = runner;
  }

  async commit(topic: string, partition: number, offset: string): Promise<void> {
    const client = this.requireClient();
    // The group protocol does not stop a member committing a partition it lost in a
    // rebalance; that would move the new owner's offset. Its new owner commits instead.
    if (!this.owns(topic, partition)) return;
    try {
      await client.commit({ offsets: [{ topic, partition, offset: BigInt(offset) + 1n, leaderEpoch: -1 }] });
    } catch (error) {
      throw describeFailure(this.connection.brokers, error);
    }
  }

  async disconnect(): Promise<void> {
    const { client, stream, runner } = this;
    this.client = null;
    this.stream = null;
    this.runner = null;
    if (stream !== null) await stream.close().catch(() => undefined);
    if (runner !== null) await runner.stop();
    if (client !== null) await closeForcibly(client);
  }

  private owns(topic: string, partition: number): boolean {
    const assignments = this.client?.assignments ?? [];
    return assignments.some(
      (assignment) => assignment.topic === topic && assignment.partitions.includes(partition),
    );
  }

  /** Stops fetching and leaves the group (its partitions go to other members), then reports. */
  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    const { client, stream } = this;
    stream?.pause();
    void (async () => {
      await stream?.close().catch(() => undefined);
      if (client !== null) {
        await new Promise<void>((resolve) => client.leaveGroup(true, () => resolve()));
      }
    })();
    this.onError(error);
  }

  private requireClient(): Client {
    if (this.client === null) throw new Error('Consumer used before connect()');
    return this.client;
  }
}

function toConsumed(message: Message<Buffer, Buffer, string, string>): ConsumedMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of message.headers) headers[name] = value;
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset.toString(),
    key: message.key ?? null,
    value: message.value ?? null,
    headers,
    timestamp: message.timestamp.toString(),
  };
}
