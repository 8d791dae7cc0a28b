import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { stackAddresses } from './addresses.js';

export interface ReadMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/**
 * Reads topics from the beginning with a throwaway consumer group (kafkajs, independent of
 * the product's own Kafka package, so a bug there cannot hide itself), until `done` says the
 * messages so far are enough, or the timeout passes (then it rejects with what it saw).
 */
export async function readTopics(
  topics: string[] | RegExp,
  done: (messages: ReadMessage[]) => boolean,
  timeoutMs = 60_000,
): Promise<ReadMessage[]> {
  const kafka = new Kafka({
    clientId: 'testkit-reader',
    brokers: [...stackAddresses.kafka.brokers],
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({
    groupId: `testkit-${randomBytes(6).toString('hex')}`,
    maxWaitTimeInMs: 200,
  });
  const messages: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: Array.isArray(topics) ? topics : [topics], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `readTopics: condition not met within ${timeoutMs} ms (${messages.length} messages read)`,
            ),
          ),
        timeoutMs,
      );
      void consumer
        .run({
          // Per batch, not per message: `done` may look at every message read so far.
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) {
              const headers: Record<string, string> = {};
              for (const [name, value] of Object.entries(message.headers ?? {})) {
                if (value !== undefined) headers[name] = String(value);
              }
              messages.push({
                topic: batch.topic,
                partition: batch.partition,
                offset: message.offset,
                key: message.key === null ? null : message.key.toString('utf8'),
                value: message.value === null ? null : message.value.toString('utf8'),
                headers,
              });
            }
            if (done(messages)) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
      if (done(messages)) {
        clearTimeout(timer);
        resolve();
      }
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}
