import type { Kafka, Producer as KafkaJSClient, Message, PartitionerArgs } from 'kafkajs';
import { describeFailure, sendFailure } from '../errors.js';
import { defaults, type ProducerOptions } from '../options.js';
import { OrderedSendQueue } from '../ordered-send-queue.js';
import { partitionForKey } from '../partitioner.js';
import type { KafkaConnection, Producer, ProducerRecord } from '../types.js';
import { kafkaClient } from './connection.js';

/**
 * Idempotent producer on KafkaJS: `idempotent: true` (producer id, per-partition sequence
 * numbers, one request in flight per broker under a lock) and acks=all (-1) on every send.
 * OrderedSendQueue keeps overlapping sends in order (KafkaJS alone lets a later send
 * overtake a request that is being retried).
 */
export class KafkaJSProducer implements Producer {
  private readonly kafka: Kafka;
  private client: KafkaJSClient | null = null;
  private readonly queue: OrderedSendQueue;

  constructor(
    private readonly connection: KafkaConnection,
    options: ProducerOptions = {},
  ) {
    this.kafka = kafkaClient(connection);
    this.queue = new OrderedSendQueue((records) => this.request(records), {
      maxRequestBytes: options.maxRequestBytes ?? defaults.maxRequestBytes,
      onFailure: () => this.restart(),
    });
  }

  async connect(): Promise<void> {
    if (this.client !== null) return;
    const client = this.newClient();
    try {
      await client.connect();
    } catch (error) {
      await client.disconnect().catch(() => undefined);
      throw describeFailure(this.connection.brokers, error);
    }
    this.client = client;
  }

  send(records: ProducerRecord[]): Promise<void> {
    if (this.client === null) return Promise.reject(new Error('Producer.send() before connect()'));
    return this.queue.send(records);
  }

  async disconnect(): Promise<void> {
    await this.queue.idle();
    const client = this.client;
    this.client = null;
    await client?.disconnect();
  }

  private async request(records: ProducerRecord[]): Promise<void> {
    const client = this.client;
    if (client === null) throw new Error('Producer disconnected while sending');
    const byTopic = new Map<string, Message[]>();
    for (const record of records) {
      let messages = byTopic.get(record.topic);
      if (messages === undefined) {
        messages = [];
        byTopic.set(record.topic, messages);
      }
      const message: Message = { key: record.key, value: record.value };
      if (record.partition !== undefined) message.partition = record.partition;
      if (record.headers !== undefined) message.headers = record.headers;
      messages.push(message);
    }
    try {
      await client.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    } catch (error) {
      throw sendFailure(this.connection.brokers, records, error);
    }
  }

  /** After a failed request: a new producer id, so no sequence number is ever reused. */
  private async restart(): Promise<void> {
    const old = this.client;
    if (old === null) return;
    const fresh = this.newClient();
    this.client = fresh;
    await old.disconnect().catch(() => undefined);
    await fresh.connect().catch(() => undefined);
  }

  private newClient(): KafkaJSClient {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Infinite retries (KafkaJS's default for idempotence) within its 30 s retry time.
      createPartitioner: () => javaPartitioner(),
    });
  }
}

/** Explicit partition if given; Java's murmur2 for keys; round robin without a key. */
function javaPartitioner(): (args: PartitionerArgs) => number {
  let next = 0;
  return ({ partitionMetadata, message }) => {
    if (message.partition !== undefined && message.partition !== null) return message.partition;
    const count = partitionMetadata.length;
    if (message.key !== undefined && message.key !== null) {
      return partitionForKey(message.key, count);
    }
    return next++ % count;
  };
}
