import { randomBytes } from 'node:crypto';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { CacheStoreError, errorText } from '../errors.js';
import { generationKey } from '../keys.js';
import type {
  CacheStore,
  EvictOp,
  FenceOutcome,
  FillOutcome,
  GenerationState,
  KeyRef,
  Lease,
  LeaseResult,
  RefreshOp,
} from '../types.js';
import { type FenceVersion, isFenceVersion, NO_VERSION } from '../version.js';
import { redisScripts } from './scripts.js';

export interface RedisStoreOptions {
  /** redis:// or rediss:// URL; with `cluster`, one node of the cluster to discover it from. */
  url: string;
  password?: string;
  /** Redis Cluster: every operation touches one key, so scripts never cross slots. */
  cluster?: boolean;
  keyPrefix?: string;
  maxKeyBytes?: number;
  /** Lifetime of tombstones (evicted keys' versions), in seconds. Default one day. */
  fenceTtlSeconds?: number;
  /** A command not answered within this many ms fails as STORE_UNAVAILABLE. Default 2000. */
  commandTimeoutMs?: number;
}

type ScriptReply = number | [number, string] | [number] | [number, number];

interface ScriptCommands {
  refresh(key: string, version: string, value: string, ttlMs: number): Promise<number>;
  evict(key: string, version: string, tombstoneMs: number): Promise<number>;
  truncate(key: string, version: string): Promise<[number, number]>;
  lease(key: string, token: string, ttlMs: number): Promise<ScriptReply>;
  fill(key: string, token: string, value: string, ttlMs: number): Promise<number>;
  release(key: string, token: string): Promise<number>;
}

type Client = (Redis | Cluster) & ScriptCommands;

/**
 * Redis with version fences: each write is one Lua script (./lua), so the compare and the write
 * are one atomic step. A key is a hash (d = document, v = version, l/lx = lease); NGINX and
 * readers serve `HGET key d`, so the served value is the row document and nothing else.
 */
export class RedisStore implements CacheStore {
  readonly name = 'redis' as const;
  readonly keyPrefix: string;
  readonly maxKeyBytes: number;
  readonly fenceTtlSeconds: number;
  private readonly client: Client;
  private readonly where: string;

  constructor(options: RedisStoreOptions) {
    this.keyPrefix = options.keyPrefix ?? '';
    this.maxKeyBytes = options.maxKeyBytes ?? 1024;
    this.fenceTtlSeconds = options.fenceTtlSeconds ?? 86_400;
    const url = new URL(options.url);
    this.where = `${url.hostname}:${url.port || 6379}`;
    const common: RedisOptions = {
      password: options.password ?? (url.password ? decodeURIComponent(url.password) : undefined),
      username: url.username ? decodeURIComponent(url.username) : undefined,
      tls: url.protocol === 'rediss:' ? {} : undefined,
      commandTimeout: options.commandTimeoutMs ?? 2000,
      // Fail a command after one reconnect attempt instead of queueing it for ever: the caller
      // retries with backoff (and the invalidator hands it to its retry queue).
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
      lazyConnect: true,
    };
    const client = options.cluster
      ? new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
          redisOptions: common,
          lazyConnect: true,
          clusterRetryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
        })
      : new Redis(options.url, common);
    // Errors surface through the commands that fail; the event only stops ioredis printing them.
    client.on('error', () => undefined);
    for (const script of redisScripts()) {
      client.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
    }
    this.client = client as Client;
  }

  async generation(table: string, _route: string): Promise<GenerationState> {
    const [generation, truncatedAt] = await this.call('generation', () =>
      this.client.hmget(generationKey(this.keyPrefix, table), 'g', 'v'),
    );
    return {
      generation: generation == null ? 0 : Number(generation),
      truncatedAt: truncatedAt != null && isFenceVersion(truncatedAt) ? truncatedAt : NO_VERSION,
    };
  }

  async refresh(op: RefreshOp): Promise<FenceOutcome> {
    this.checkKey(op.key);
    const ttlMs = op.ttlSeconds === undefined ? 0 : op.ttlSeconds * 1000;
    const applied = await this.call('refresh', () =>
      this.client.refresh(op.key, op.version, op.value, ttlMs),
    );
    return applied === 1 ? 'applied' : 'stale';
  }

  async evict(op: EvictOp): Promise<FenceOutcome> {
    this.checkKey(op.key);
    const applied = await this.call('evict', () =>
      this.client.evict(op.key, op.version, this.fenceTtlSeconds * 1000),
    );
    return applied === 1 ? 'applied' : 'stale';
  }

  async truncate(table: string, version: FenceVersion): Promise<FenceOutcome> {
    const [applied] = await this.call('truncate', () =>
      this.client.truncate(generationKey(this.keyPrefix, table), version),
    );
    return applied === 1 ? 'applied' : 'stale';
  }

  async get(ref: KeyRef): Promise<string | null> {
    this.checkKey(ref.key);
    return this.call('get', () => this.client.hget(ref.key, 'd'));
  }

  async lease(ref: KeyRef, options: { ttlMs: number }): Promise<LeaseResult> {
    this.checkKey(ref.key);
    const token = randomBytes(12).toString('base64url');
    const reply = await this.call('lease', () => this.client.lease(ref.key, token, options.ttlMs));
    if (Array.isArray(reply) && reply[0] === 1) return { kind: 'hit', value: String(reply[1]) };
    if (Array.isArray(reply) && reply[0] === 2) return { kind: 'held' };
    return { kind: 'granted', lease: { key: ref.key, route: ref.route, token } };
  }

  async fill(lease: Lease, value: string, options: { ttlSeconds: number }): Promise<FillOutcome> {
    const stored = await this.call('fill', () =>
      this.client.fill(lease.key, lease.token, value, options.ttlSeconds * 1000),
    );
    return stored === 1 ? 'stored' : 'lost';
  }

  async release(lease: Lease): Promise<void> {
    await this.call('release', () => this.client.release(lease.key, lease.token));
  }

  async inspect(ref: KeyRef): Promise<{ value: string | null; version: FenceVersion | null }> {
    const [value, version] = await this.call('inspect', () => this.client.hmget(ref.key, 'd', 'v'));
    return { value: value ?? null, version: version ?? null };
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.client.ping());
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }

  /** The underlying client (tests, and the NGINX/consistency tooling that reads keys directly). */
  get redis(): Redis | Cluster {
    return this.client;
  }

  private checkKey(key: string): void {
    if (key.length > this.maxKeyBytes) {
      throw new CacheStoreError(
        'KEY_INVALID',
        'redis',
        `redis key of ${key.length} bytes is longer than maxKeyBytes ${this.maxKeyBytes}; render keys with the store's maxKeyBytes`,
      );
    }
  }

  private async call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.describe(operation, error);
    }
  }

  private describe(operation: string, error: unknown): CacheStoreError {
    const name = error instanceof Error ? error.name : '';
    // ReplyError: Redis answered with an error (OOM, WRONGTYPE, a script error): about this
    // operation. Everything else (closed connection, timeout, retries exhausted): Redis is away.
    if (name === 'ReplyError') {
      return new CacheStoreError(
        'STORE_REJECTED',
        'redis',
        `redis ${this.where} refused ${operation}: ${errorText(error)}`,
        { cause: error },
      );
    }
    return new CacheStoreError(
      'STORE_UNAVAILABLE',
      'redis',
      `redis ${this.where} did not answer ${operation}: ${errorText(error)}; check that Redis is up and reachable`,
      { cause: error },
    );
  }
}
