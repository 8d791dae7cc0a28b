import kafkajs, { type Kafka } from 'kafkajs';
import type { KafkaConnection } from '../types.js';

/** A KafkaJS client for a connection: quiet (errors reach callers as errors), short connect retries. */
export function kafkaClient(connection: KafkaConnection): Kafka {
  return new kafkajs.Kafka({
    clientId: connection.clientId,
    brokers: connection.brokers,
    connectionTimeout: 3_000,
    retry: { retries: 3, initialRetryTime: 300 },
    logLevel: kafkajs.logLevel.NOTHING,
  });
}
