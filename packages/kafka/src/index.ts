import { type KafkaClientAdapter, kafkaClients } from './clients.js';
import type { ConsumerOptions, ProducerOptions } from './options.js';
import type { Consumer, KafkaConnection, Producer, TopicAdmin } from './types.js';

/** The client the factories use, chosen by benchmark (bench/kafka-clients.md). */
const chosen: KafkaClientAdapter = kafkaClients.platformatic;

/** An idempotent producer (acks=all), ordered per partition across overlapping sends. */
export function createProducer(connection: KafkaConnection, options?: ProducerOptions): Producer {
  return chosen.createProducer(connection, options);
}

export function createTopicAdmin(connection: KafkaConnection): TopicAdmin {
  return chosen.createTopicAdmin(connection);
}

/** A consumer-group member; offsets move only through commit(). */
export function createConsumer(connection: KafkaConnection, options: ConsumerOptions): Consumer {
  return chosen.createConsumer(connection, options);
}

export type { KafkaClientAdapter, KafkaClientName } from './clients.js';
export { kafkaClients } from './clients.js';
export type { KafkaErrorCode } from './errors.js';
export { KafkaError } from './errors.js';
export type { ConsumerOptions, ProducerOptions } from './options.js';
export { murmur2, partitionForKey } from './partitioner.js';
export type {
  ConsumedMessage,
  Consumer,
  ConsumerBatch,
  KafkaConnection,
  Producer,
  ProducerRecord,
  TopicAdmin,
} from './types.js';
