/**
 * @cdc-cache/local-stack: the real servers of the local stack (PostgreSQL, Kafka, Elasticsearch,
 * Redis, Memcached, NGINX, Prometheus) on loopback, on the project's own ports, installed on first use
 * from Debian packages and Maven Central, with their state in `.stack/` (see stateDir()).
 */
export { StackError } from './errors.js';
export type { ServerStatus } from './format.js';
export { formatStatusTable } from './format.js';
export { logPath, stateDir } from './paths.js';
export type { ServerName } from './ports.js';
export {
  ELASTICSEARCH_TRANSPORT_PORT,
  KAFKA_CONTROLLER_PORT,
  KAFKA_FAULT_LISTENER_PORT,
  KAFKA_FAULT_PROXY_PORT,
  PORTS,
  SERVER_NAMES,
} from './ports.js';
export { promtoolPath } from './servers/prometheus.js';
export type { StackLog } from './stack.js';
export { down, isHealthy, reset, status, up } from './stack.js';
