export { KafkaJSTopicAdmin } from './admin.js';
export { KafkaJSConsumer } from './consumer.js';
export { KafkaJSProducer } from './producer.js';
