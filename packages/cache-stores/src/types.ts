import type { FenceVersion } from './version.js';

export type StoreName = 'redis' | 'memcached';

/**
 * A cache key as rendered from a key template. `key` carries the table's current generation
 * (`<prefix>g<N>@...`); `route` is the same row's key at generation 0. Memcached picks the
 * server by `route`, so every generation of a key, its fence, its lease and the table's
 * generation item share one server (and NGINX hashes the same way).
 */
export interface KeyRef {
  key: string;
  route: string;
}

/** A table's generation (bumped by every TRUNCATE) and the version of the last truncate. */
export interface GenerationState {
  generation: number;
  /** Version of the truncate that set the generation; NO_VERSION when never truncated. */
  truncatedAt: FenceVersion;
}

/** applied: the store changed; stale: it already held this version or a newer one. */
export type FenceOutcome = 'applied' | 'stale';

export interface RefreshOp extends KeyRef {
  version: FenceVersion;
  /** The row document, exactly what readers and NGINX serve. */
  value: string;
  /** Expiry of the value in seconds; absent for none. */
  ttlSeconds?: number;
}

export interface EvictOp extends KeyRef {
  version: FenceVersion;
}

/** A reader's right to fill one missing key. */
export interface Lease extends KeyRef {
  readonly token: string;
}

export type LeaseResult =
  | { kind: 'hit'; value: string }
  /** Read PostgreSQL, then fill() (or release() when there is nothing to store). */
  | { kind: 'granted'; lease: Lease }
  /** Another reader holds the lease: wait for its value (get()) or read without storing. */
  | { kind: 'held' };

/** stored: the value is in the cache; lost: an invalidation came in between, nothing stays stored. */
export type FillOutcome = 'stored' | 'lost';

/**
 * What the cache-invalidator and the read-through client need from a store. Every write is
 * fenced by version (an older change never overwrites a newer value); every refresh and
 * evict takes the key's lease away.
 */
export interface CacheStore {
  readonly name: StoreName;
  readonly keyPrefix: string;
  /** Longest rendered key the store takes; compile templates with this `maxKeyBytes`. */
  readonly maxKeyBytes: number;
  /** How long a tombstone (and a fence) outlives an evict, in seconds. */
  readonly fenceTtlSeconds: number;

  generation(table: string, route: string): Promise<GenerationState>;
  refresh(op: RefreshOp): Promise<FenceOutcome>;
  evict(op: EvictOp): Promise<FenceOutcome>;
  /** Bumps the table's generation unless this truncate (or a newer one) was applied. */
  truncate(table: string, version: FenceVersion): Promise<FenceOutcome>;

  /** The document, or null (missing, or only a tombstone). */
  get(ref: KeyRef): Promise<string | null>;
  lease(ref: KeyRef, options: { ttlMs: number }): Promise<LeaseResult>;
  fill(lease: Lease, value: string, options: { ttlSeconds: number }): Promise<FillOutcome>;
  release(lease: Lease): Promise<void>;

  /** Document and fence version of a key, for tests and consistency probes. */
  inspect(ref: KeyRef): Promise<{ value: string | null; version: FenceVersion | null }>;
  /** Resolves when every server answers; rejects with STORE_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
