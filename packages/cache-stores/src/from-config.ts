import type { StoresConfig } from '@cdc-cache/core';
import { MemcachedStore } from './memcached/memcached-store.js';
import { RedisStore } from './redis/redis-store.js';
import type { CacheStore, StoreName } from './types.js';

/** The configured stores (`stores.redis`, `stores.memcached`), by name. */
export type StoreSet = Partial<Record<StoreName, CacheStore>>;

export function createStores(config: StoresConfig): StoreSet {
  const stores: StoreSet = {};
  if (config.redis) {
    stores.redis = new RedisStore({
      url: config.redis.url,
      password: config.redis.password,
      cluster: config.redis.cluster,
      keyPrefix: config.redis.keyPrefix,
      maxKeyBytes: config.redis.maxKeyBytes,
      fenceTtlSeconds: config.redis.fenceTtl,
    });
  }
  if (config.memcached) {
    stores.memcached = new MemcachedStore({
      servers: config.memcached.servers,
      keyPrefix: config.memcached.keyPrefix,
      maxKeyBytes: config.memcached.maxKeyBytes,
      fenceTtlSeconds: config.memcached.fenceTtl,
    });
  }
  return stores;
}
