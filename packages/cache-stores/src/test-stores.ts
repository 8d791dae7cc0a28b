import { type Slate, stackAddresses } from '@cdc-cache/testkit';
import { MemcachedStore } from './memcached/memcached-store.js';
import { RedisStore } from './redis/redis-store.js';
import type { CacheStore, KeyRef, StoreName } from './types.js';

/** Both stores on the local stack, isolated by the slate's key prefix (for tests). */
export function storesFor(
  slate: Slate,
  options: { fenceTtlSeconds?: number } = {},
): Record<StoreName, CacheStore> {
  return {
    redis: new RedisStore({ url: stackAddresses.redis.url, keyPrefix: slate.keyPrefix, ...options }),
    memcached: new MemcachedStore({
      servers: stackAddresses.memcached.servers,
      keyPrefix: slate.keyPrefix,
      ...options,
    }),
  };
}

/** A key at generation `generation` (0: the plain key), with its route. */
export function keyRef(store: CacheStore, text: string, generation = 0): KeyRef {
  const route = `${store.keyPrefix}${text}`;
  return { key: generation === 0 ? route : `${store.keyPrefix}g${generation}@${text}`, route };
}
