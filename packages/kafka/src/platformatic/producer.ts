import { type MessageToProduce, Producer as PlatformaticClient, stringSerializer } from '@platformatic/kafka';
import { describeFailure, sendFailure } from '../errors.js';
import { defaults, type ProducerOptions } from '../options.js';
import { OrderedSendQueue } from '../ordered-send-queue.js';
import { murmur2 } from '../partitioner.js';
import type { KafkaConnection, Producer, ProducerRecord } from '../types.js';
import { baseOptions, checkReachable, closeForcibly } from './connection.js';

type Client = PlatformaticClient<Buffer, Buffer, string, string>;
type Message = MessageToProduce<Buffer, Buffer, string, string>;

/**
 * Idempotent producer on @platformatic/kafka: `idempotent: true` makes the client ask for a
 * producer id, number each partition's batches and send with acks=all (-1) and one request in
 * flight per connection. Overlapping sends are ordered by OrderedSendQueue (the client alone
 * would give two overlapping requests the same sequence number).
 */
export class PlatformaticProducer implements Producer {
  private client: Client | null = null;
  private readonly queue: OrderedSendQueue;
  private readonly roundRobin = new Map<string, number>();

  constructor(
    private readonly connection: KafkaConnection,
    options: ProducerOptions = {},
  ) {
    this.queue = new OrderedSendQueue((records) => this.request(records), {
      maxRequestBytes: options.maxRequestBytes ?? defaults.maxRequestBytes,
      onFailure: () => this.restart(),
    });
  }

  async connect(): Promise<void> {
    if (this.client !== null) return;
    await checkReachable(this.connection);
    const client = this.newClient();
    try {
      await client.initIdempotentProducer({});
    } catch (error) {
      await client.close().catch(() => undefined);
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
    await client?.close();
  }

  private async request(records: ProducerRecord[]): Promise<void> {
    const client = this.client;
    if (client === null) throw new Error('Producer disconnected while sending');
    const messages: Message[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) messages[i] = toMessage(records[i]!);
    try {
      await client.send({ messages });
    } catch (error) {
      throw sendFailure(this.connection.brokers, records, error);
    }
  }

  /** After a failed request: a new producer id, so no sequence number is ever reused. */
  private async restart(): Promise<void> {
    const old = this.client;
    if (old === null) return;
    this.client = this.newClient();
    await closeForcibly(old).catch(() => undefined);
  }

  private newClient(): Client {
    return new PlatformaticClient<Buffer, Buffer, string, string>({
      ...baseOptions(this.connection),
      // Ride out a leader election or a broker restart (about 10 s) before a send fails.
      retries: 20,
      retryDelay: 500,
      idempotent: true,
      acks: -1,
      serializers: { headerKey: stringSerializer, headerValue: stringSerializer },
      // Java's default partitioner for keyed records (the client takes it modulo the
      // partition count); round robin for records without a key.
      partitioner: (message, key) => {
        if (key !== undefined) return murmur2(key) & 0x7fffffff;
        const next = this.roundRobin.get(message.topic) ?? 0;
        this.roundRobin.set(message.topic, next + 1);
        return next;
      },
    });
  }
}

function toMessage(record: ProducerRecord): Message {
  const message: Message = {
    topic: record.topic,
    key: toBuffer(record.key),
    value: toBuffer(record.value),
  };
  if (record.partition !== undefined) message.partition = record.partition;
  if (record.headers !== undefined) message.headers = record.headers;
  return message;
}

function toBuffer(data: Buffer | string | null): Buffer | undefined {
  if (data === null) return undefined;
  return typeof data === 'string' ? Buffer.from(data) : data;
}
