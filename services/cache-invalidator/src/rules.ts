import type { CacheStore, StoreName } from '@cdc-cache/cache-stores';
import { compileKeyTemplate, type KeyTemplate, type RuleConfig } from '@cdc-cache/core';

/** One key of a rule, its template compiled for its store (prefix, length limit). */
export interface CompiledKey {
  template: KeyTemplate;
  store: StoreName;
  action: 'refresh' | 'evict';
  ttl: number | undefined;
}

export interface CompiledRule {
  table: string;
  keys: CompiledKey[];
  /** The stores any of its keys live in (a truncate bumps the generation in each). */
  stores: StoreName[];
}

/** Rules by table (`schema.table`). A store a rule names must be among `stores`. */
export function compileRules(
  rules: readonly RuleConfig[],
  stores: Partial<Record<StoreName, Pick<CacheStore, 'keyPrefix' | 'maxKeyBytes'>>>,
): Map<string, CompiledRule> {
  const compiled = new Map<string, CompiledRule>();
  for (const rule of rules) {
    const keys = rule.keys.map((key): CompiledKey => {
      const store = stores[key.store];
      if (store === undefined)
        throw new Error(`rule for ${rule.table}: store ${key.store} is not configured`);
      return {
        template: compileKeyTemplate(key.key, {
          store: key.store,
          keyPrefix: store.keyPrefix,
          maxKeyBytes: store.maxKeyBytes,
        }),
        store: key.store,
        action: key.action,
        ttl: key.ttl,
      };
    });
    compiled.set(rule.table, { table: rule.table, keys, stores: [...new Set(keys.map((key) => key.store))] });
  }
  return compiled;
}
