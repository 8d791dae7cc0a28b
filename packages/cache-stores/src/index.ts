export type { CacheStoreErrorCode } from './errors.js';
export { CacheStoreError, isStoreUnavailable } from './errors.js';
export type { StoreSet } from './from-config.js';
export { createStores } from './from-config.js';
export { fenceKey, generationKey, leaseKey, MEMCACHED_KEY_LIMIT, MEMCACHED_SUFFIX_BYTES } from './keys.js';
export { ConsistentHashRing, crc32 } from './memcached/ketama.js';
export type { MemcachedStoreOptions } from './memcached/memcached-store.js';
export { MemcachedStore } from './memcached/memcached-store.js';
export type { MetaReply } from './memcached/meta-connection.js';
export { MetaConnection } from './memcached/meta-connection.js';
export type { RedisStoreOptions } from './redis/redis-store.js';
export { RedisStore } from './redis/redis-store.js';
export type { RedisScript } from './redis/scripts.js';
export { redisScripts } from './redis/scripts.js';
export type {
  CacheStore,
  EvictOp,
  FenceOutcome,
  FillOutcome,
  GenerationState,
  KeyRef,
  Lease,
  LeaseResult,
  RefreshOp,
  StoreName,
} from './types.js';
export type { FenceVersion } from './version.js';
export { compareVersions, describeVersion, fenceVersion, isFenceVersion, NO_VERSION } from './version.js';
