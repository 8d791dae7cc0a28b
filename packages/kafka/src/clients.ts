import { KafkaJSConsumer, KafkaJSProducer, KafkaJSTopicAdmin } from './kafkajs/index.js';
import type { ConsumerOptions, ProducerOptions } from './options.js';
import { PlatformaticConsumer, PlatformaticProducer, PlatformaticTopicAdmin } from './platformatic/index.js';
import type { Consumer, KafkaConnection, Producer, TopicAdmin } from './types.js';

/** One Kafka client library behind the package's interface. */
export interface KafkaClientAdapter {
  readonly name: KafkaClientName;
  createProducer(connection: KafkaConnection, options?: ProducerOptions): Producer;
  createTopicAdmin(connection: KafkaConnection): TopicAdmin;
  createConsumer(connection: KafkaConnection, options: ConsumerOptions): Consumer;
}

export type KafkaClientName = 'kafkajs' | 'platformatic';

export const kafkaClients: Record<KafkaClientName, KafkaClientAdapter> = {
  kafkajs: {
    name: 'kafkajs',
    createProducer: (connection, options) => new KafkaJSProducer(connection, options),
    createTopicAdmin: (connection) => new KafkaJSTopicAdmin(connection),
    createConsumer: (connection, options) => new KafkaJSConsumer(connection, options),
  },
  platformatic: {
    name: 'platformatic',
    createProducer: (connection, options) => new PlatformaticProducer(connection, options),
    createTopicAdmin: (connection) => new PlatformaticTopicAdmin(connection),
    createConsumer: (connection, options) => new PlatformaticConsumer(connection, options),
  },
};
