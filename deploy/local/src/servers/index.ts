import type { ServerName } from '../ports.js';
import { elasticsearch } from './elasticsearch.js';
import { kafka } from './kafka.js';
import { memcached } from './memcached.js';
import { nginx } from './nginx.js';
import { postgres } from './postgres.js';
import { prometheus } from './prometheus.js';
import { redis } from './redis.js';
import type { ServerDef } from './types.js';

export const SERVERS: Readonly<Record<ServerName, ServerDef>> = {
  postgres,
  kafka,
  elasticsearch,
  redis,
  memcached,
  nginx,
  prometheus,
};
