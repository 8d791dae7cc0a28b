export type {
  ConsumedMessage,
  Consumer,
  ConsumerBatch,
  KafkaConnection,
  Producer,
  ProducerRecord,
  TopicAdmin,
} from './types.js';
