import { Admin } from '@platformatic/kafka';
import { describeFailure, onlyBrokerErrors, topicMissingError } from '../errors.js';
import type { KafkaConnection, TopicAdmin } from '../types.js';
import { baseOptions } from './connection.js';

const LATEST = -1n;
const EARLIEST = -2n;

/** TopicAdmin on @platformatic/kafka's Admin client. */
export class PlatformaticTopicAdmin implements TopicAdmin {
  private client: Admin | null = null;

  constructor(private readonly connection: KafkaConnection) {}

  async connect(): Promise<void> {
    if (this.client !== null) return;
    const client = new Admin(baseOptions(this.connection));
    try {
      await client.metadata({ topics: [] });
    } catch (error) {
      await client.close().catch(() => undefined);
      throw describeFailure(this.connection.brokers, error);
    }
    this.client = client;
  }

  async ensureTopics(topics: string[], partitions: number): Promise<void> {
    const client = this.requireClient();
    await this.call(async () => {
      const existing = new Set(await client.listTopics());
      const missing = [...new Set(topics)].filter((topic) => !existing.has(topic));
      if (missing.length > 0) {
        try {
          // replicas -1: the broker's default.replication.factor (KIP-464).
          await client.createTopics({ topics: missing, partitions, replicas: -1 });
        } catch (error) {
          // Someone else created them in the meantime: that is what we wanted.
          if (!onlyBrokerErrors(error, 'TOPIC_ALREADY_EXISTS')) throw error;
        }
      }
      await this.waitForLeaders(topics);
    });
  }

  async partitionCounts(topics: string[]): Promise<Map<string, number>> {
    const client = this.requireClient();
    return this.call(async () => {
      await this.requireTopics(topics);
      const metadata = await client.metadata({ topics, forceUpdate: true });
      const counts = new Map<string, number>();
      for (const topic of topics) counts.set(topic, metadata.topics.get(topic)?.partitionsCount ?? 0);
      return counts;
    });
  }

  async listTopics(prefix = ''): Promise<string[]> {
    const client = this.requireClient();
    return this.call(async () =>
      (await client.listTopics()).filter((topic) => topic.startsWith(prefix)).sort(),
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
      const metadata = await client.metadata({ topics });
      const partitionsOf = (topic: string) =>
        Array.from({ length: metadata.topics.get(topic)?.partitionsCount ?? 0 }, (_, i) => i);
      const offsetsAt = async (timestamp: bigint) => {
        const listed = await client.listOffsets({
          topics: topics.map((name) => ({
            name,
            partitions: partitionsOf(name).map((partitionIndex) => ({ partitionIndex, timestamp })),
          })),
        });
        const offsets = new Map<string, bigint>();
        for (const topic of listed)
          for (const p of topic.partitions) offsets.set(`${topic.name}:${p.partitionIndex}`, p.offset);
        return offsets;
      };
      const [ends, starts, groups] = await Promise.all([
        offsetsAt(LATEST),
        offsetsAt(EARLIEST),
        client.listConsumerGroupOffsets({
          groups: [
            { groupId, topics: topics.map((name) => ({ name, partitionIndexes: partitionsOf(name) })) },
          ],
        }),
      ]);
      const committed = new Map<string, bigint>();
      for (const group of groups)
        for (const topic of group.topics)
          for (const p of topic.partitions)
            committed.set(`${topic.name}:${p.partitionIndex}`, p.committedOffset);
      const lag: { topic: string; partition: number; lag: number }[] = [];
      for (const topic of topics) {
        for (const partition of partitionsOf(topic)) {
          const key = `${topic}:${partition}`;
          const end = ends.get(key) ?? 0n;
          const done = committed.get(key) ?? -1n;
          // Nothing committed yet: everything still in the log is waiting.
          const from = done >= 0n ? done : (starts.get(key) ?? 0n);
          lag.push({ topic, partition, lag: Number(end > from ? end - from : 0n) });
        }
      }
      return lag;
    });
  }

  async disconnect(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.close();
  }

  private async requireTopics(topics: string[]): Promise<void> {
    const existing = new Set(await this.requireClient().listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length > 0) throw topicMissingError(this.connection.brokers, missing);
  }

  /** A created topic can be used once each partition has a leader. */
  private async waitForLeaders(topics: string[]): Promise<void> {
    const client = this.requireClient();
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const metadata = await client.metadata({ topics, forceUpdate: true });
        const ready = topics.every((topic) => {
          const info = metadata.topics.get(topic);
          return (
            info !== undefined && info.partitions.length > 0 && info.partitions.every((p) => p.leader >= 0)
          );
        });
        if (ready) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline)
        throw new Error(`Kafka topics ${topics.join(', ')} have no leader after 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
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
