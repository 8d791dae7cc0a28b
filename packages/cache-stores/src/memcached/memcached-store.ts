import { createHash, randomBytes } from 'node:crypto';
import { CacheStoreError } from '../errors.js';
import { fenceKey, generationKey, leaseKey, MEMCACHED_KEY_LIMIT, MEMCACHED_SUFFIX_BYTES } from '../keys.js';
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
import { ConsistentHashRing } from './ketama.js';
import { type MetaConnection as Connection, MetaConnection, type MetaReply } from './meta-connection.js';

export interface MemcachedStoreOptions {
  /** host:port of each server, written exactly as in NGINX's upstream (the hash ring uses the text). */
  servers: readonly string[];
  keyPrefix?: string;
  /** Longest rule key; at most 248, so the fence and lease items (`<key>@v`, `<key>@l`) fit in 250. */
  maxKeyBytes?: number;
  /** Lifetime of fences (the version of a key, kept after an evict as its tombstone), in seconds. */
  fenceTtlSeconds?: number;
  timeoutMs?: number;
  /**
   * Called between setting the fence and writing the key (steps 4 and 5 below). For tests that
   * pause a writer there to force the interleavings the protocol must survive.
   */
  beforeKeyWrite?: (key: string, version: FenceVersion) => Promise<void>;
}

/** Memcached reads an expiry above 30 days as a Unix time. */
const MAX_RELATIVE_TTL = 30 * 24 * 3600;
/** Compare-and-set rounds before an operation gives up (each lost round means another writer won one). */
const MAX_ROUNDS = 50;

interface MemcachedLease extends Lease {
  readonly cas: string;
}

/**
 * Memcached with version fences over the meta protocol (our own client: memjs has no CAS).
 *
 * NGINX serves `get <key>` as it is, so the key holds the row document and nothing else; its
 * version lives in a fence item `<key>@v`, which also stays behind as the tombstone when the key
 * is evicted. Memcached has no multi-item transactions, so writes follow one protocol:
 *
 *   1. delete the lease `<key>@l` (a reader that read PostgreSQL before this change must not store);
 *   2. read the key's CAS (or its absence) and the fence;
 *   3. fence newer than the change: stale, stop;
 *   4. fence older: compare-and-set the fence to the change's version (add if absent);
 *   5. compare-and-set the key (refresh: the document; evict: delete), with the CAS from step 2.
 *   A failed compare-and-set in 4 or 5 starts again at 2.
 *
 * The key is only ever written by a writer that saw the newest fence after the key's last
 * write (its CAS from step 2 is still current), so an older change never overwrites a newer
 * document, whatever the interleaving of invalidators, retries and readers. A fence equal to
 * the change's version repeats step 5: a writer that died between 4 and 5 is completed by its
 * replay. The servers are chosen by `route` (the key at generation 0) on a ring NGINX shares.
 */
export class MemcachedStore implements CacheStore {
  readonly name = 'memcached' as const;
  readonly keyPrefix: string;
  readonly maxKeyBytes: number;
  readonly fenceTtlSeconds: number;
  private readonly connections: MetaConnection[];
  private readonly ring: ConsistentHashRing<MetaConnection>;
  private readonly beforeKeyWrite: MemcachedStoreOptions['beforeKeyWrite'];

  constructor(options: MemcachedStoreOptions) {
    this.beforeKeyWrite = options.beforeKeyWrite;
    if (options.servers.length === 0) throw new Error('memcached: no servers; list at least one host:port');
    this.keyPrefix = options.keyPrefix ?? '';
    this.maxKeyBytes = Math.min(options.maxKeyBytes ?? 250, MEMCACHED_KEY_LIMIT - MEMCACHED_SUFFIX_BYTES);
    this.fenceTtlSeconds = Math.min(options.fenceTtlSeconds ?? 86_400, MAX_RELATIVE_TTL);
    this.connections = options.servers.map((server) => {
      const at = server.lastIndexOf(':');
      return new MetaConnection({
        host: server.slice(0, at).replace(/^\[(.*)\]$/, '$1'),
        port: Number(server.slice(at + 1)),
        timeoutMs: options.timeoutMs,
      });
    });
    this.ring = new ConsistentHashRing(
      options.servers.map((name, i) => ({ name, node: this.connections[i]! })),
    );
  }

  async generation(table: string, route: string): Promise<GenerationState> {
    const reply = await this.server(route).request(`mg ${this.wire(generationKey(this.keyPrefix, table))} v`);
    return parseGeneration(reply);
  }

  async refresh(op: RefreshOp): Promise<FenceOutcome> {
    const ttl = op.ttlSeconds === undefined ? 0 : Math.min(op.ttlSeconds, MAX_RELATIVE_TTL);
    const value = Buffer.from(op.value, 'utf8');
    // The fence must outlive the document: a document without its fence could be overwritten
    // by an older change.
    const fenceTtl = ttl === 0 ? 0 : Math.min(Math.max(ttl, this.fenceTtlSeconds), MAX_RELATIVE_TTL);
    return this.fenced(op, fenceTtl, (connection, key, cas) =>
      connection.request(
        cas === null ? `ms ${key} ${value.length} T${ttl} ME` : `ms ${key} ${value.length} T${ttl} C${cas}`,
        value,
      ),
    );
  }

  async evict(op: EvictOp): Promise<FenceOutcome> {
    return this.fenced(op, this.fenceTtlSeconds, async (connection, key, cas) =>
      // Already absent: nothing to delete (a reader that adds it now has lost its lease).
      cas === null
        ? ({ status: 'HD', flags: new Map(), value: null } as MetaReply)
        : connection.request(`md ${key} C${cas}`),
    );
  }

  async truncate(table: string, version: FenceVersion): Promise<FenceOutcome> {
    const key = this.wire(generationKey(this.keyPrefix, table));
    // Every server keeps its own copy of the generation, read by the keys that live there.
    const outcomes = await Promise.all(
      this.connections.map(async (connection) => {
        for (let round = 0; round < MAX_ROUNDS; round++) {
          const reply = await connection.request(`mg ${key} v c`);
          const state = parseGeneration(reply);
          if (reply.status === 'VA' && state.truncatedAt >= version) return 'stale';
          const next = Buffer.from(`${state.generation + 1} ${version}`);
          const cas = reply.flags.get('c');
          const written = await connection.request(
            reply.status === 'VA' && cas !== undefined
              ? `ms ${key} ${next.length} T0 C${cas}`
              : `ms ${key} ${next.length} T0 ME`,
            next,
          );
          if (written.status === 'HD') return 'applied';
        }
        throw this.contended(key);
      }),
    );
    return outcomes.includes('applied') ? 'applied' : 'stale';
  }

  async get(ref: KeyRef): Promise<string | null> {
    const reply = await this.server(ref.route).request(`mg ${this.wire(ref.key)} v`);
    return reply.status === 'VA' ? reply.value!.toString('utf8') : null;
  }

  async lease(ref: KeyRef, options: { ttlMs: number }): Promise<LeaseResult> {
    const connection = this.server(ref.route);
    const key = this.wire(ref.key);
    const token = randomBytes(12).toString('base64url');
    // Asked together (pipelined): the document, and a lease added only if nobody holds one.
    const [value, lease] = await Promise.all([
      connection.request(`mg ${key} v`),
      connection.request(
        `ms ${leaseKey(key)} ${token.length} T${leaseSeconds(options.ttlMs)} ME c`,
        Buffer.from(token),
      ),
    ]);
    if (value.status === 'VA') {
      if (lease.status === 'HD') await connection.request(`md ${leaseKey(key)} C${lease.flags.get('c')}`);
      return { kind: 'hit', value: value.value!.toString('utf8') };
    }
    if (lease.status !== 'HD') return { kind: 'held' };
    const granted: MemcachedLease = {
      key: ref.key,
      route: ref.route,
      token,
      cas: lease.flags.get('c') ?? '0',
    };
    return { kind: 'granted', lease: granted };
  }

  async fill(lease: Lease, value: string, options: { ttlSeconds: number }): Promise<FillOutcome> {
    const { cas: leaseCas } = lease as MemcachedLease;
    const connection = this.server(lease.route);
    const key = this.wire(lease.key);
    const bytes = Buffer.from(value, 'utf8');
    const ttl = Math.min(Math.max(0, options.ttlSeconds), MAX_RELATIVE_TTL);
    // Add, then look at the lease: if an invalidation took it in between (or it expired and
    // another reader took it), what was added may be older than the change: delete it again,
    // by its own CAS so that nothing written since is touched.
    // Pipelined: the server runs them in this order.
    const [added, current] = await Promise.all([
      connection.request(`ms ${key} ${bytes.length} T${ttl} ME c`, bytes),
      connection.request(`mg ${leaseKey(key)} v`),
    ]);
    const held = current.status === 'VA' && current.value!.toString('latin1') === lease.token;
    if (added.status !== 'HD') {
      if (held) await connection.request(`md ${leaseKey(key)} C${leaseCas}`);
      return 'lost';
    }
    if (!held) {
      await connection.request(`md ${key} C${added.flags.get('c')}`);
      return 'lost';
    }
    await connection.request(`md ${leaseKey(key)} C${leaseCas}`);
    return 'stored';
  }

  async release(lease: Lease): Promise<void> {
    const { cas } = lease as MemcachedLease;
    await this.server(lease.route).request(`md ${leaseKey(this.wire(lease.key))} C${cas}`);
  }

  async inspect(ref: KeyRef): Promise<{ value: string | null; version: FenceVersion | null }> {
    const connection = this.server(ref.route);
    const key = this.wire(ref.key);
    const [value, fence] = await Promise.all([
      connection.request(`mg ${key} v`),
      connection.request(`mg ${fenceKey(key)} v`),
    ]);
    return {
      value: value.status === 'VA' ? value.value!.toString('utf8') : null,
      version: fence.status === 'VA' ? fence.value!.toString('latin1') : null,
    };
  }

  async ping(): Promise<void> {
    await Promise.all(this.connections.map((connection) => connection.request('mn')));
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.close();
  }

  /** The steps of the class comment; `write` does step 5 given the key's CAS (null: absent). */
  private async fenced(
    op: KeyRef & { version: FenceVersion },
    fenceTtl: number,
    write: (connection: Connection, key: string, cas: string | null) => Promise<MetaReply>,
  ): Promise<FenceOutcome> {
    const connection = this.server(op.route);
    const key = this.wire(op.key);
    const fence = fenceKey(key);
    const version = Buffer.from(op.version, 'latin1');
    // Step 1, pipelined with the first reads of step 2.
    const leaseGone = connection.request(`md ${leaseKey(key)}`);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const [current, fenced] = await Promise.all([
        connection.request(`mg ${key} c`),
        connection.request(`mg ${fence} v c`),
      ]);
      if (round === 0) await leaseGone;
      const fenceVersion = fenced.status === 'VA' ? fenced.value!.toString('latin1') : null;
      if (fenceVersion !== null && isFenceVersion(fenceVersion) && fenceVersion > op.version) return 'stale';
      if (fenceVersion !== op.version) {
        const fenceCas = fenced.flags.get('c');
        const set = await connection.request(
          fenceVersion !== null && fenceCas !== undefined
            ? `ms ${fence} ${version.length} T${fenceTtl} C${fenceCas}`
            : `ms ${fence} ${version.length} T${fenceTtl} ME`,
          version,
        );
        if (set.status !== 'HD') continue;
      }
      const cas =
        current.status === 'HD' || current.status === 'VA' ? (current.flags.get('c') ?? null) : null;
      if (this.beforeKeyWrite) await this.beforeKeyWrite(key, op.version);
      const written = await write(connection, key, cas);
      // EX: the key changed since step 2; NF: it was deleted since. Either way: look again.
      if (written.status === 'HD') return 'applied';
    }
    throw this.contended(key);
  }

  private server(route: string): MetaConnection {
    return this.ring.nodeFor(route);
  }

  /**
   * The key as sent to Memcached. NGINX's memcached module escapes "%" in `$memcached_key` as
   * "%25" (NGX_ESCAPE_MEMCACHED; spaces and control bytes too, which keys never hold), and our
   * keys carry "%XX" escapes of values, so the store writes the escaped form too: NGINX then
   * asks for exactly the key that was written. Escaping is injective. An escaped key too long
   * for Memcached (with room for the fence and lease suffixes) becomes
   * `<first bytes>#~<base64url SHA-256 of the key>` ("~" never follows "#" in other keys);
   * NGINX sends such keys to the read-api.
   */
  private wire(key: string): string {
    if (!/^[\x21-\x7e]+$/.test(key)) {
      throw new CacheStoreError(
        'KEY_INVALID',
        'memcached',
        `memcached key ${JSON.stringify(key.slice(0, 60))} holds spaces, control or non-ASCII characters; render keys with the key templates`,
      );
    }
    const escaped = key.includes('%') ? key.replaceAll('%', '%25') : key;
    const limit = MEMCACHED_KEY_LIMIT - MEMCACHED_SUFFIX_BYTES;
    if (escaped.length <= limit) return escaped;
    const digest = createHash('sha256').update(key).digest('base64url');
    let head = escaped.slice(0, limit - 2 - digest.length);
    // Never cut a "%25" in two.
    const cut = head.lastIndexOf('%');
    if (cut >= head.length - 2) head = head.slice(0, cut);
    return `${head}#~${digest}`;
  }

  private contended(key: string): CacheStoreError {
    return new CacheStoreError(
      'STORE_REJECTED',
      'memcached',
      `memcached key ${key}: compare-and-set lost ${MAX_ROUNDS} times in a row to other writers; retried later`,
    );
  }
}

function parseGeneration(reply: MetaReply): GenerationState {
  if (reply.status !== 'VA') return { generation: 0, truncatedAt: NO_VERSION };
  const [generation, truncatedAt] = reply.value!.toString('latin1').split(' ');
  return {
    generation: Number(generation) || 0,
    truncatedAt: truncatedAt !== undefined && isFenceVersion(truncatedAt) ? truncatedAt : NO_VERSION,
  };
}

/** Memcached counts expiry in whole seconds: round up, and never below 2 (1 may expire at once). */
function leaseSeconds(ms: number): number {
  return Math.max(2, Math.ceil(ms / 1000));
}
