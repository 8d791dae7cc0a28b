import type { CacheStore, StoreName } from '@cdc-cache/cache-stores';
import { type Config, compileKeyTemplate, type KeyTemplate, type RowImage } from '@cdc-cache/core';

/** One GET route: a path pattern, the table and the rule key it reads through. */
export interface ReadRoute {
  path: string;
  table: string;
  store: StoreName;
  template: KeyTemplate;
  /** The path's placeholders, in path order (the key's columns). */
  columns: string[];
  match(path: string): RowImage | null;
}

/** The configured routes, or one per rule (its first key) when none are configured. */
export function routesFrom(config: Config, stores: Partial<Record<StoreName, CacheStore>>): ReadRoute[] {
  const configured = config.services.readApi.routes;
  const specs =
    configured.length > 0
      ? configured
      : config.rules.map((rule) => {
          const first = rule.keys[0]!;
          const columns = compileKeyTemplate(first.key).columns;
          const name = rule.table.slice(rule.table.indexOf('.') + 1);
          return {
            path: `/v1/${name}/${columns.map((column) => `{${column}}`).join('/')}`,
            table: rule.table,
            key: first.key,
            store: first.store,
          };
        });
  return specs.map((spec) => {
    const store = stores[spec.store];
    if (store === undefined) throw new Error(`route ${spec.path}: store ${spec.store} is not configured`);
    const template = compileKeyTemplate(spec.key, {
      store: spec.store,
      keyPrefix: store.keyPrefix,
      maxKeyBytes: store.maxKeyBytes,
    });
    const segments = spec.path.split('/');
    const columns = segments.flatMap((segment) => /^\{(.+)\}$/.exec(segment)?.[1] ?? []);
    return {
      path: spec.path,
      table: spec.table,
      store: spec.store,
      template,
      columns,
      match(path: string): RowImage | null {
        const parts = path.split('/');
        if (parts.length !== segments.length) return null;
        const params: RowImage = {};
        for (let i = 0; i < segments.length; i++) {
          const pattern = segments[i]!;
          const part = parts[i]!;
          const column = /^\{(.+)\}$/.exec(pattern)?.[1];
          if (column === undefined) {
            if (pattern !== part) return null;
            continue;
          }
          if (part === '') return null;
          try {
            params[column] = decodeURIComponent(part);
          } catch {
            return null;
          }
        }
        return params;
      },
    };
  });
}
