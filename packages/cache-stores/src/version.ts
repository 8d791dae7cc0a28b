import { type Lsn, parseLsn } from '@cdc-cache/core';

/**
 * The version a cached value carries: the change's (commitLsn, lsn) pair, as docs/events.md
 * orders events (commitLsn first, then lsn; several changes of one row in one transaction share
 * commitLsn and differ in lsn).
 *
 * Encoded as 32 lower-case hex digits: 16 for commitLsn, then 16 for lsn. Fixed width, so the
 * byte order of two encodings is the order of the versions; the Lua scripts compare them in
 * four 32-bit pieces (never through strcoll or a double), and Memcached stores them as text.
 */
export type FenceVersion = string;

const VERSION = /^[0-9a-f]{32}$/;

/** The fence version of a change: (commitLsn, lsn). */
export function fenceVersion(commitLsn: Lsn, lsn: Lsn): FenceVersion {
  return hex16(parseLsn(commitLsn)) + hex16(parseLsn(lsn));
}

/** The lowest version, older than any change (a value stored without one). */
export const NO_VERSION: FenceVersion = '0'.repeat(32);

export function isFenceVersion(value: string): value is FenceVersion {
  return VERSION.test(value);
}

/** Negative when a is older than b, zero when equal, positive when newer. */
export function compareVersions(a: FenceVersion, b: FenceVersion): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `commitLsn/lsn` in pg's text form, for logs and dead letters. */
export function describeVersion(version: FenceVersion): string {
  const part = (hex: string) =>
    `${BigInt(`0x${hex.slice(0, 8)}`)
      .toString(16)
      .toUpperCase()}/${hex
      .slice(8)
      .replace(/^0+(?=.)/, '')
      .toUpperCase()}`;
  return `commit ${part(version.slice(0, 16))}, lsn ${part(version.slice(16))}`;
}

function hex16(value: bigint): string {
  return value.toString(16).padStart(16, '0');
}
