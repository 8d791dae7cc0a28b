import { randomBytes } from 'node:crypto';
import { stackAddresses } from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KafkaClientName, kafkaClients } from './clients.js';
import { partitionForKey } from './partitioner.js';
import type { ConsumedMessage, Consumer, ConsumerBatch, KafkaConnection, TopicAdmin } from './types.js';

/**
 * The contract every client adapter keeps, against the real broker of the local stack.
 * Each run owns the topics and groups named with its own random prefix.
 */
const connection: KafkaConnection = {
  brokers: [...stackAddresses.kafka.brokers],
  clientId: 'kafka-contract-test',
};

describe.each(['kafkajs', 'platformatic'] as KafkaClientName[])('Kafka contract with %s', (name) => {
  const client = kafkaClients[name];
  const prefix = `t_kafka_${name}_${randomBytes(3).toString('hex')}`;
  let admin: TopicAdmin;
  let serial = 0;
  const consumers: Consumer[] = [];
  const fresh = (label: string) => `${prefix}_${label}_${serial++}`;

  beforeAll(async () => {
    admin = client.createTopicAdmin(connection);
    await admin.connect();
  });

  afterAll(async () => {
    await Promise.all(consumers.map((consumer) => consumer.disconnect().catch(() => undefined)));
    await admin.deleteTopics(await admin.listTopics(prefix)).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  });

  /** A group member that collects what it is handed (commits are up to the test). */
  async function startConsumer(
    topic: string,
    groupId: string,
    onBatch: (batch: ConsumerBatch, consumer: Consumer) => Promise<void> = async () => undefined,
  ) {
    const received: ConsumedMessage[] = [];
    const errors: unknown[] = [];
    const consumer = client.createConsumer(connection, { groupId, onError: (error) => errors.push(error) });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe([topic], { fromBeginning: true });
    await consumer.run(async (batch) => {
      received.push(...batch.messages);
      await onBatch(batch, consumer);
    });
    const waitFor = async (count: number) => {
      const deadline = Date.now() + 30_000;
      while (received.length < count && errors.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if (errors.length > 0) throw errors[0];
      expect(received.length).toBeGreaterThanOrEqual(count);
    };
    return { consumer, received, errors, waitFor };
  }

  it('ensureTopics creates what is missing, again and concurrently without error', async () => {
    const [a, b] = [fresh('ensure'), fresh('ensure')];
    await admin.ensureTopics([a], 3);
    await Promise.all([admin.ensureTopics([a, b], 3), admin.ensureTopics([b, a], 3)]);
    await admin.ensureTopics([a, b], 3);
    expect(await admin.partitionCounts([a, b])).toEqual(
      new Map([
        [a, 3],
        [b, 3],
      ]),
    );
    expect(await admin.listTopics(`${prefix}_ensure`)).toEqual([a, b].sort());
    await admin.deleteTopics([a]);
    expect(await admin.listTopics(`${prefix}_ensure`)).toEqual([b]);
    await expect(admin.partitionCounts([a])).rejects.toThrow(`Kafka topic ${a} missing`);
  });

  it("keeps each key's records in send order across overlapping sends, in the key's Java partition", async () => {
    const topic = fresh('order');
    await admin.ensureTopics([topic], 6);
    const producer = client.createProducer(connection);
    await producer.connect();
    const keys = Array.from({ length: 40 }, (_, i) => JSON.stringify({ id: i }));
    const sends = 12;
    const perSend = 100;
    const next = new Map<string, number>();
    const sent = [];
    for (let s = 0; s < sends; s++) {
      const records = Array.from({ length: perSend }, (_, i) => {
        const key = keys[(s * perSend + i) % keys.length]!;
        const seq = next.get(key) ?? 0;
        next.set(key, seq + 1);
        return { topic, key, value: `${seq}` };
      });
      sent.push(producer.send(records)); // not awaited: sends overlap
    }
    await Promise.all(sent);
    await producer.disconnect();

    let running = new Set<number>();
    let overlapped = false;
    const { received, waitFor } = await startConsumer(topic, fresh('group'), async (batch) => {
      if (running.has(batch.partition)) overlapped = true;
      running.add(batch.partition);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running = new Set([...running].filter((p) => p !== batch.partition));
    });
    await waitFor(sends * perSend);
    expect(received).toHaveLength(sends * perSend);
    expect(overlapped).toBe(false);
    const seen = new Map<string, number[]>();
    for (const message of received) {
      const key = message.key!.toString();
      expect(message.partition).toBe(partitionForKey(key, 6));
      seen.set(key, [...(seen.get(key) ?? []), Number(message.value!.toString())]);
    }
    for (const key of keys) {
      const count = next.get(key)!;
      expect(seen.get(key)).toEqual(Array.from({ length: count }, (_, i) => i));
    }
  });

  it('fails a refused send and the sends queued behind it, then goes on sending in order', async () => {
    const topic = fresh('refused');
    await admin.ensureTopics([topic], 1);
    const producer = client.createProducer(connection);
    await producer.connect();
    await producer.send([{ topic, key: 'k', value: 'before' }]);
    // Larger than the broker's message.max.bytes (1 MiB): refused, not retried.
    const tooLarge = producer.send([{ topic, key: 'k', value: Buffer.alloc(2 * 1024 * 1024) }]);
    const behind = producer.send([{ topic, key: 'k', value: 'queued behind' }]);
    await expect(tooLarge).rejects.toThrow(/^Kafka at .+ did not acknowledge 1 records for t_kafka_/);
    await expect(behind).rejects.toThrow();
    await producer.send([{ topic, key: 'k', value: 'after' }]);
    await producer.disconnect();
    const { received, waitFor } = await startConsumer(topic, fresh('group'));
    await waitFor(2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(received.map((m) => m.value?.toString())).toEqual(['before', 'after']);
  });

  it('honours an explicit partition and carries headers and null values', async () => {
    const topic = fresh('explicit');
    await admin.ensureTopics([topic], 6);
    const producer = client.createProducer(connection);
    await producer.connect();
    await producer.send([
      { topic, partition: 2, key: 'same', value: 'to two', headers: { op: 't' } },
      { topic, partition: 4, key: 'same', value: null },
      { topic, key: Buffer.from('same'), value: Buffer.from([0, 1, 2]) },
    ]);
    await producer.disconnect();
    const { received, waitFor } = await startConsumer(topic, fresh('group'));
    await waitFor(3);
    const byValue = (value: string | null) =>
      received.find((m) => (m.value === null ? value === null : m.value.equals(Buffer.from(value ?? ''))));
    expect(byValue('to two')).toMatchObject({ partition: 2, headers: { op: 't' } });
    expect(byValue(null)).toMatchObject({ partition: 4, value: null });
    const keyed = received.find((m) => m.value?.equals(Buffer.from([0, 1, 2])));
    expect(keyed?.partition).toBe(partitionForKey('same', 6));
    expect(keyed?.key?.toString()).toBe('same');
  });

  it('a new member of the group resumes after the committed offset; lag counts what is left', async () => {
    const topic = fresh('resume');
    const groupId = fresh('group');
    await admin.ensureTopics([topic], 1);
    const producer = client.createProducer(connection);
    await producer.connect();
    await producer.send(Array.from({ length: 10 }, (_, i) => ({ topic, key: 'k', value: `${i}` })));
    await producer.disconnect();
    expect(await admin.consumerLag(groupId, [topic])).toEqual([{ topic, partition: 0, lag: 10 }]);

    const first = await startConsumer(topic, groupId);
    await first.waitFor(10);
    expect(first.received.map((m) => m.offset)).toEqual(Array.from({ length: 10 }, (_, i) => `${i}`));
    await first.consumer.commit(topic, 0, '5'); // offsets 0..5 are done
    await first.consumer.disconnect();
    expect(await admin.consumerLag(groupId, [topic])).toEqual([{ topic, partition: 0, lag: 4 }]);

    const second = await startConsumer(topic, groupId);
    await second.waitFor(4);
    expect(second.received.map((m) => m.offset)).toEqual(['6', '7', '8', '9']);
    await second.consumer.commit(topic, 0, '9');
    expect(await admin.consumerLag(groupId, [topic])).toEqual([{ topic, partition: 0, lag: 0 }]);
    await second.consumer.disconnect();
  });

  it('stops and reports when the handler throws, committing nothing', async () => {
    const topic = fresh('throws');
    const groupId = fresh('group');
    await admin.ensureTopics([topic], 1);
    const producer = client.createProducer(connection);
    await producer.connect();
    await producer.send([{ topic, key: 'k', value: 'boom' }]);
    await producer.disconnect();
    const { errors } = await startConsumer(topic, groupId, async () => {
      throw new Error('handler failed');
    });
    const deadline = Date.now() + 30_000;
    while (errors.length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('handler failed');
    expect(await admin.consumerLag(groupId, [topic])).toEqual([{ topic, partition: 0, lag: 1 }]);
  });

  it('says in one line which Kafka is unreachable and what to do', async () => {
    const nowhere: KafkaConnection = { brokers: ['127.0.0.1:1'], clientId: 'kafka-contract-test' };
    const message = /^Kafka at 127\.0\.0\.1:1 is unreachable: .+; is it running\? npm run stack -- status$/;
    await expect(client.createProducer(nowhere).connect()).rejects.toThrow(message);
    await expect(client.createTopicAdmin(nowhere).connect()).rejects.toThrow(message);
    await expect(client.createConsumer(nowhere, { groupId: 'nobody' }).connect()).rejects.toThrow(message);
  });
});
