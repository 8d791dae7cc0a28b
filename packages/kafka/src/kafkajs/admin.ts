import type { Admin } from 'kafkajs';
import { describeFailure, onlyBrokerErrors, topicMissingError } from '../errors.js';
import type { KafkaConnection, TopicAdmin } from '../types.js';
import { kafkaClient } from './connection.js';

/** TopicAdmin on KafkaJS's admin client. */
export class KafkaJSTopicAdmin implements TopicAdmin {
  private client: Admin | null = null;

  constructor(private readonly connection: KafkaConnection) {}

  async connect(): Promise<void> {
    if (this.client !== null) return;
    const client = kafkaClient(this.connection).admin();
    try {
      await client.connect();
    } catch (error) {
      await client.disconnect().catch(() => undefined);
      throw describeFailure(this.connection.brokers, error);
    }
    this.client = client;
  }

  async ensureTopics(topics: string[], partitions: number): Promise<void> {
    const client = this.requireClient();
    await this.call(async () => {
      const existing = new Set(await client.listTopics());
      const missing = [...new Set(topics)].filter((topic) => !existing.has(topic));
      if (missing.length === 0) return;
      try {
        // Resolves false when they all exist already; waits for partition leaders.
        await client.createTopics({
          // replicationFactor -1: the broker's default.replication.factor (Kafka 4 takes it on
          // CreateTopics v3, the newest KafkaJS speaks).
          topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: -1 })),
          waitForLeaders: true,
        });
      } catch (error) {
        // Someone else created them in the meantime: that is what we wanted.
        if (!onlyBrokerErrors(error, 'TOPIC_ALREADY_EXISTS')) throw error;
      }
    });
  }

  async partitionCounts(topics: string[]): Promise<Map<string, number>> {
    const client = this.requireClient();
    return this.call(async () => {
      await this.requireTopics(topics);
      const metadata = await client.fetchTopicMetadata({ topics });
      const counts = new Map<string, number>();
      for (const topic of metadata.topics) counts.set(topic.name, topic.partitions.length);
      return counts;
    });
  }

  async listTopics(prefix = ''): Promise<string[]> {
    const client = this.requireClient();
    return this.call(async () =>
      (await client.listTopics())
        .filter((topic) => topic.startsWith(prefix) && !topic.startsWith('__'))
        .sort(),
    );
  }

  async deleteTopics(topics: string[]): Promise<void> {
    const client = this.requireClient();
    await this.call(async () => {
      const existing = new Set(await client.listTopics());
      const present = topics.filter((topic) => existing.has(topic));
      if (present.length === 0) return;
      try {
        await client.deleteTopics({ topics: present });
      } catch (error) {
        if (!onlyBrokerErrors(error, 'UNKNOWN_TOPIC_OR_PARTITION')) throw error;
      }
    });
  }

  async consumerLag(
    groupId: string,
    topics: string[],
  ): Promise<{ topic: string; partition: number; lag: number }[]> {
    const client = this.requireClient();
    return this.call(async () => {
      await this.requireTopics(topics);
      const committed = new Map<string, bigint>();
      for (const topic of await client.fetchOffsets({ groupId, topics })) {
        for (const p of topic.partitions) committed.set(`${topic.topic}:${p.partition}`, BigInt(p.offset));
      }
      const lag: { topic: string; partition: number; lag: number }[] = [];
      for (const topic of topics) {
        const offsets = await client.fetchTopicOffsets(topic);
        for (const { partition, high, low } of offsets.sort((a, b) => a.partition - b.partition)) {
          const end = BigInt(high);
          const done = committed.get(`${topic}:${partition}`) ?? -1n;
          // Nothing committed yet: everything still in the log is waiting.
          const from = done >= 0n ? done : BigInt(low);
          lag.push({ topic, partition, lag: Number(end > from ? end - from : 0n) });
        }
      }
      return lag;
    });
  }

  async disconnect(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.disconnect();
  }

  private async requireTopics(topics: string[]): Promise<void> {
    const existing = new Set(await this.requireClient().listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length > 0) throw topicMissingError(this.connection.brokers, missing);
  }

  private async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw describeFailure(this.connection.brokers, error);
    }
  }

  private requireClient(): Admin {
    if (this.client === null) throw new Error('TopicAdmin used before connect()');
    return this.client;
  }
}
