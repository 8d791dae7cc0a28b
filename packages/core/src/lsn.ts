/**
 * PostgreSQL log sequence numbers. The wire and the event contract use pg's text form
 * ("16/B374D848": two 32-bit hex halves); fences and Elasticsearch versions need a number,
 * and a 64-bit LSN does not fit a JS number safely, so comparisons go through bigint.
 */
export type Lsn = string;

const LSN_PATTERN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function parseLsn(lsn: Lsn): bigint {
  const match = LSN_PATTERN.exec(lsn);
  if (!match) throw new Error(`invalid LSN "${lsn}": expected pg's text form such as "0/16B3748"`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatLsn(value: bigint): Lsn {
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) throw new Error(`LSN out of range: ${value}`);
  const high = (value >> 32n).toString(16).toUpperCase();
  const low = (value & 0xffff_ffffn).toString(16).toUpperCase();
  return `${high}/${low}`;
}

/** Negative when a is older than b, zero when equal, positive when newer. */
export function compareLsn(a: Lsn, b: Lsn): number {
  const x = parseLsn(a);
  const y = parseLsn(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
