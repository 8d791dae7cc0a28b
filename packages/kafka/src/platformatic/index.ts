export { PlatformaticTopicAdmin } from './admin.js';
export { PlatformaticConsumer } from './consumer.js';
export { PlatformaticProducer } from './producer.js';
