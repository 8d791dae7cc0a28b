import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { stackAddresses } from './addresses.js';

/**
 * A clean slate for one test file, without restarting any server: its own PostgreSQL
 * database, and prefixes for everything that cannot be scoped otherwise (Kafka topics,
 * replication slots, cache keys, Elasticsearch indexes). Test files run in parallel, so a
 * slate never touches what another slate owns.
 */
export interface Slate {
  /** Short unique id, safe in every server's names: `t_<label>_<random>`. */
  readonly id: string;
  /** The fresh database, and a URL to it. */
  readonly database: string;
  readonly pgUrl: string;
  /** Prefix for Kafka topics: `<id>` (topics become `<id>.public.users`). */
  readonly topicPrefix: string;
  /** Name for this slate's replication slot and publication. */
  readonly slotName: string;
  /** Prefix for Redis and Memcached keys: `<id>:`. */
  readonly keyPrefix: string;
  /** Prefix for Elasticsearch index names (lower case): `<id>-`. */
  readonly indexPrefix: string;
  /** A pg client on the fresh database, connected. */
  readonly db: pg.Client;
  /** Deletes this slate's Redis keys (Memcached keys carry the prefix and are never shared). */
  flushCaches(): Promise<void>;
  /** Drops the database, its replication slots, its indexes; closes connections. */
  dispose(): Promise<void>;
}

export async function freshSlate(label: string): Promise<Slate> {
  const safeLabel = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 20);
  const id = `t_${safeLabel}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: stackAddresses.postgres.url() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${id}`);
  } finally {
    await admin.end();
  }
  const pgUrl = stackAddresses.postgres.url(id);
  const db = new pg.Client({ connectionString: pgUrl });
  await db.connect();
  const keyPrefix = `${id}:`;
  const indexPrefix = `${id.replace(/_/g, '-')}-`;

  return {
    id,
    database: id,
    pgUrl,
    topicPrefix: id,
    slotName: id,
    keyPrefix,
    indexPrefix,
    db,
    flushCaches: () => deleteRedisKeys(`${keyPrefix}*`),
    async dispose() {
      await db.end().catch(() => undefined);
      await dropDatabase(id);
      await deleteRedisKeys(`${keyPrefix}*`);
      await deleteIndexes(indexPrefix);
    },
  };
}

async function dropDatabase(database: string): Promise<void> {
  const admin = new pg.Client({ connectionString: stackAddresses.postgres.url() });
  await admin.connect();
  try {
    // Slots pin WAL for the whole cluster: a slate must not leave one behind.
    await admin.query(
      `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL`,
      [database],
    );
    await admin.query(
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`,
      [database],
    );
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

async function deleteRedisKeys(pattern: string): Promise<void> {
  const redis = new Redis(stackAddresses.redis.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function deleteIndexes(prefix: string): Promise<void> {
  const base = stackAddresses.elasticsearch.url;
  // Wildcard deletes are refused by default (action.destructive_requires_name): list, then delete by name.
  const response = await fetch(`${base}/_cat/indices/${prefix}*?format=json&h=index&expand_wildcards=all`);
  if (!response.ok) return;
  const indexes = (await response.json()) as { index: string }[];
  for (const { index } of indexes) await fetch(`${base}/${index}`, { method: 'DELETE' });
}
