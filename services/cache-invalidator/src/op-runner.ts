import type { CacheStore, FenceOutcome, StoreName } from '@cdc-cache/cache-stores';
import { CacheStoreError } from '@cdc-cache/cache-stores';
import { compileKeyTemplate, type KeyTemplate } from '@cdc-cache/core';
import type { CacheOp } from './cache-op.js';

/** A refresh is applied as an evict when its change is older than its fence could live, less this margin (clock skew). */
const AGE_MARGIN_MS = 5_000;

export interface OpResult {
  /** What the store did; `truncated`: the change is older than the table's last truncate (it was erased). */
  outcome: FenceOutcome | 'truncated';
  /** The action that ran: a refresh may run as an evict (TOAST, or too old to refresh safely). */
  action: CacheOp['kind'];
}

/**
 * Applies one planned operation to its store: reads the table's generation, skips a row
 * change older than the last truncate, renders the key in the current generation, and runs
 * the fenced refresh or evict (or the truncate).
 *
 * The age rule: a value's fence lives at most min(ttl, fenceTtl); a refresh older than that
 * (a late retry, a replay from a dead letter) might find no fence and overwrite a newer
 * value, so it runs as an evict, which is always safe.
 */
export class OpRunner {
  private readonly templates = new Map<string, KeyTemplate>();

  constructor(
    private readonly stores: Partial<Record<StoreName, CacheStore>>,
    private readonly now: () => number = Date.now,
  ) {}

  store(name: StoreName): CacheStore {
    const store = this.stores[name];
    if (store === undefined) {
      throw new CacheStoreError('KEY_INVALID', name, `store ${name} is not configured; add stores.${name}`);
    }
    return store;
  }

  async apply(op: CacheOp): Promise<OpResult> {
    const store = this.store(op.store);
    if (op.kind === 'truncate') {
      return { outcome: await store.truncate(op.table, op.version), action: 'truncate' };
    }
    const { generation, truncatedAt } = await store.generation(op.table, op.route);
    if (op.version <= truncatedAt) return { outcome: 'truncated', action: op.kind };
    const rendered = this.template(store, op.template).render(op.row, { generation });
    if (!rendered.ok) throw new CacheStoreError('KEY_INVALID', op.store, rendered.reason);
    const ref = { key: rendered.key, route: op.route };
    if (op.kind === 'refresh' && op.value !== undefined && this.youngEnough(store, op.commitTime, op.ttl)) {
      return {
        outcome: await store.refresh({ ...ref, version: op.version, value: op.value, ttlSeconds: op.ttl }),
        action: 'refresh',
      };
    }
    return { outcome: await store.evict({ ...ref, version: op.version }), action: 'evict' };
  }

  private youngEnough(store: CacheStore, commitTime: string, ttl: number | undefined): boolean {
    const lifetimeMs = Math.min(ttl ?? Number.POSITIVE_INFINITY, store.fenceTtlSeconds) * 1000;
    const ageMs = this.now() - Date.parse(commitTime);
    return ageMs < lifetimeMs - AGE_MARGIN_MS;
  }

  private template(store: CacheStore, text: string): KeyTemplate {
    const id = `${store.name}\u0000${text}`;
    let template = this.templates.get(id);
    if (template === undefined) {
      template = compileKeyTemplate(text, {
        store: store.name,
        keyPrefix: store.keyPrefix,
        maxKeyBytes: store.maxKeyBytes,
      });
      this.templates.set(id, template);
    }
    return template;
  }
}
