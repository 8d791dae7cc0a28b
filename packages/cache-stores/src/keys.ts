/**
 * Names of the store's own items beside the rule keys. Rendered rule keys never contain `@`
 * except in the generation marker right after the prefix (`<prefix>g<N>@`) and never end in
 * `@v` or `@l`, so none of these can meet a rule key (core/src/key-template.ts).
 */

/** The table's generation item: `<prefix>@gen:<schema.table>`. */
export function generationKey(keyPrefix: string, table: string): string {
  return `${keyPrefix}@gen:${table}`;
}

/** Memcached: the fence item of a key (its version; a tombstone when the key is gone). */
export function fenceKey(key: string): string {
  return `${key}@v`;
}

/** Memcached: the lease item of a key. */
export function leaseKey(key: string): string {
  return `${key}@l`;
}

/** Bytes fenceKey and leaseKey add: Memcached rule keys must be this much shorter than 250. */
export const MEMCACHED_SUFFIX_BYTES = 2;
export const MEMCACHED_KEY_LIMIT = 250;
