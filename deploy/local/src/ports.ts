/** The servers of the local stack and the project's own loopback ports (never the standard ones). */
export type ServerName =
  | 'postgres'
  | 'kafka'
  | 'elasticsearch'
  | 'redis'
  | 'memcached'
  | 'nginx'
  | 'prometheus';

/** In start order; `up` starts them together but reports them in this order. */
export const SERVER_NAMES: readonly ServerName[] = Object.freeze([
  'postgres',
  'kafka',
  'elasticsearch',
  'redis',
  'memcached',
  'nginx',
  'prometheus',
]);

/** The main (client) port of each server, all on 127.0.0.1. */
export const PORTS: Readonly<Record<ServerName, number>> = Object.freeze({
  postgres: 15432,
  kafka: 19092,
  elasticsearch: 19200,
  redis: 16379,
  memcached: 21211,
  nginx: 18080,
  prometheus: 19090,
});

/** KRaft controller listener of the single Kafka node (clients never use it). */
export const KAFKA_CONTROLLER_PORT = 19093;
/**
 * A second Kafka listener for fault tests: the broker listens on KAFKA_FAULT_LISTENER_PORT but
 * tells clients to reach it at KAFKA_FAULT_PROXY_PORT, where a test runs a proxy it can pause
 * (testkit's KafkaFaultProxy). Clients that bootstrap through the proxy stay behind it.
 */
export const KAFKA_FAULT_LISTENER_PORT = 19094;
export const KAFKA_FAULT_PROXY_PORT = 19095;
/** Elasticsearch node-to-node transport (bound, but nothing joins it). */
export const ELASTICSEARCH_TRANSPORT_PORT = 19300;

export const HOST = '127.0.0.1';

export function isServerName(value: string): value is ServerName {
  return (SERVER_NAMES as readonly string[]).includes(value);
}
