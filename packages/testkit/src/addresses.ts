import { PORTS } from '@cdc-cache/local-stack';

/**
 * Where the local stack's servers listen: the one place tests get addresses from.
 * Every address is on loopback and on the project's own ports (deploy/local).
 */
const HOST = '127.0.0.1';

export const stackAddresses = {
  postgres: {
    host: HOST,
    port: PORTS.postgres,
    user: 'postgres',
    url: (database = 'postgres'): string => `postgres://postgres@${HOST}:${PORTS.postgres}/${database}`,
  },
  kafka: { brokers: [`${HOST}:${PORTS.kafka}`] },
  elasticsearch: { url: `http://${HOST}:${PORTS.elasticsearch}` },
  redis: { url: `redis://${HOST}:${PORTS.redis}` },
  memcached: { servers: [`${HOST}:${PORTS.memcached}`] },
  nginx: { url: `http://${HOST}:${PORTS.nginx}` },
  prometheus: { url: `http://${HOST}:${PORTS.prometheus}` },
} as const;

export type StackAddresses = typeof stackAddresses;
