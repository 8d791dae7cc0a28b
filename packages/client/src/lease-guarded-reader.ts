import type { CacheStore, KeyRef, LeaseResult } from '@cdc-cache/cache-stores';
import type { KeyTemplate, RowImage } from '@cdc-cache/core';

/** Where a read was answered from. */
export type ReadSource =
  /** The cache held the value. */
  | 'hit'
  /** This reader held the lease, read PostgreSQL and stored the value. */
  | 'filled'
  /** Another reader filled the key while this one waited. */
  | 'waited'
  /** Read from PostgreSQL and not stored: the lease was lost (an invalidation came in between), the wait ran out, or the row does not exist. */
  | 'database'
  /** The cache did not answer: read from PostgreSQL, nothing stored. */
  | 'bypass';

export interface ReadResult {
  /** The row document, or null when the row does not exist. */
  value: string | null;
  source: ReadSource;
}

export interface ReadRequest {
  /** The table (`schema.table`): its generation is part of the key. */
  table: string;
  /** The key template, compiled for the store (keyPrefix, maxKeyBytes). */
  template: KeyTemplate;
  /** The key's columns, e.g. `{ id: '42' }`. */
  params: RowImage;
  /** Reads the row document from PostgreSQL; null when there is no such row. */
  load(): Promise<string | null>;
}

export interface LeaseGuardedReaderOptions {
  store: CacheStore;
  /** How long a lease lasts if its holder never comes back (ms). Default 5000. */
  leaseTtlMs?: number;
  /** How long other readers wait for the leaseholder before reading PostgreSQL themselves (ms). Default 500. */
  waitMs?: number;
  /** Pause between looks while waiting (ms). Default 10. */
  pollMs?: number;
  /** Expiry of stored values (s). Default 3600. */
  fillTtlSeconds?: number;
}

/**
 * Read-through with leases (Meta's memcache paper): on a miss, one reader takes the key's
 * lease, reads PostgreSQL and stores the value only if the lease is still there; every
 * invalidation removes the lease, so a value read before a change is never left in the cache.
 * Readers that find the lease taken wait briefly for the holder's value instead of all
 * reading PostgreSQL (a thundering herd becomes one query). If the cache does not answer,
 * reads go to PostgreSQL and nothing is stored.
 */
export class LeaseGuardedReader {
  private readonly store: CacheStore;
  private readonly leaseTtlMs: number;
  private readonly waitMs: number;
  private readonly pollMs: number;
  private readonly fillTtlSeconds: number;

  constructor(options: LeaseGuardedReaderOptions) {
    this.store = options.store;
    this.leaseTtlMs = options.leaseTtlMs ?? 5000;
    this.waitMs = options.waitMs ?? 500;
    this.pollMs = options.pollMs ?? 10;
    this.fillTtlSeconds = options.fillTtlSeconds ?? 3600;
  }

  async read(request: ReadRequest): Promise<ReadResult> {
    let ref: KeyRef;
    let first: LeaseResult;
    try {
      ref = await this.keyRef(request);
      first = await this.store.lease(ref, { ttlMs: this.leaseTtlMs });
    } catch {
      return { value: await request.load(), source: 'bypass' };
    }
    const deadline = Date.now() + this.waitMs;
    let result = first;
    for (;;) {
      if (result.kind === 'hit') return { value: result.value, source: result === first ? 'hit' : 'waited' };
      if (result.kind === 'granted') return this.fill(request, result.lease);
      if (Date.now() >= deadline) return { value: await request.load(), source: 'database' };
      await new Promise((resolve) => setTimeout(resolve, this.pollMs * (0.5 + Math.random())));
      try {
        result = await this.store.lease(ref, { ttlMs: this.leaseTtlMs });
      } catch {
        return { value: await request.load(), source: 'bypass' };
      }
    }
  }

  /** The key in the table's current generation (a TRUNCATE moves every key of the table). */
  async keyRef(request: Pick<ReadRequest, 'table' | 'template' | 'params'>): Promise<KeyRef> {
    const route = request.template.render(request.params);
    if (!route.ok) throw new Error(route.reason);
    const { generation } = await this.store.generation(request.table, route.key);
    const key = generation === 0 ? route : request.template.render(request.params, { generation });
    if (!key.ok) throw new Error(key.reason);
    return { key: key.key, route: route.key };
  }

  private async fill(
    request: ReadRequest,
    lease: Extract<LeaseResult, { kind: 'granted' }>['lease'],
  ): Promise<ReadResult> {
    let value: string | null;
    try {
      value = await request.load();
    } catch (error) {
      await this.store.release(lease).catch(() => undefined);
      throw error;
    }
    try {
      if (value === null) {
        await this.store.release(lease);
        return { value, source: 'database' };
      }
      const outcome = await this.store.fill(lease, value, { ttlSeconds: this.fillTtlSeconds });
      return { value, source: outcome === 'stored' ? 'filled' : 'database' };
    } catch {
      return { value, source: 'bypass' };
    }
  }
}
