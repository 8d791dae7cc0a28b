import type { StoreName } from './types.js';

/**
 * STORE_UNAVAILABLE: the server does not answer (down, unreachable, timed out); the same
 * operation will work once it is back, so it is retried without counting as an attempt.
 * STORE_REJECTED: the server answered with an error for this operation (too large, out of
 * memory, a wrong type at the key); retried a limited number of times, then dead-lettered.
 * KEY_INVALID: the key cannot be sent to this store (too long, forbidden bytes).
 */
export type CacheStoreErrorCode = 'STORE_UNAVAILABLE' | 'STORE_REJECTED' | 'KEY_INVALID';

export class CacheStoreError extends Error {
  constructor(
    readonly code: CacheStoreErrorCode,
    readonly store: StoreName,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CacheStoreError';
  }
}

export function isStoreUnavailable(error: unknown): boolean {
  return error instanceof CacheStoreError && error.code === 'STORE_UNAVAILABLE';
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
