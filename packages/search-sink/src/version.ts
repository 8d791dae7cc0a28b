import { type ChangeSource, compareLsn, parseLsn } from '@cdc-cache/core';

/**
 * The Elasticsearch version of a change: one 63-bit integer that orders the changes of a row
 * as docs/events.md orders them, by the pair (commitLsn, lsn).
 *
 *     version = commitLsn × 2^10 + min(seq, 1023)
 *
 * Why not one LSN alone:
 * - `commitLsn` alone gives every change of one transaction the same version. With
 *   `external_gte` the later change wins when applied in order, but a replayed (or reordered)
 *   earlier change of the same transaction would then overwrite it too: equal is allowed.
 * - `lsn` alone misorders snapshot reads: an `r` event carries its chunk's watermark as both
 *   `lsn` and `commitLsn`, and a transaction that changed the row before the watermark but
 *   committed after it has a smaller `lsn` and is newer. Comparing `commitLsn` first is right.
 *
 * So commitLsn is the major part and `seq` (the change's position in its transaction, which
 * increases with `lsn` inside the transaction) the minor part. Elasticsearch versions are at most
 * 2^63 − 1, so the two parts share 63 bits: 53 for commitLsn (8 PiB of WAL, the same bound as a
 * JavaScript number holding an LSN exactly) and 10 for seq.
 *
 * A transaction can hold more than 1023 changes. `seq` saturates at 1023: changes from position
 * 1023 on share a version. That is still correct for anything Kafka delivers (one row's changes
 * arrive in order, replays included, and `external_gte` lets the later of two equal versions
 * win); only a reversed delivery of two changes of the same row, both past position 1023 of the
 * same transaction, could keep the earlier. Inside one bulk the sink compares the exact pair
 * (`compareChanges`), so even that needs the two to arrive in different bulks.
 */
export const SEQ_BITS = 10n;
export const MAX_SEQ = (1n << SEQ_BITS) - 1n;
/** Largest commit LSN a version can carry: 2^53 − 1 (LSN 1FFFFF/FFFFFFFF). */
export const MAX_VERSION_LSN = (1n << (63n - SEQ_BITS)) - 1n;
/** Largest version Elasticsearch accepts. */
export const MAX_VERSION = (1n << 63n) - 1n;

export class VersionRangeError extends Error {
  readonly code = 'VERSION_LSN_TOO_LARGE';
  constructor(commitLsn: string) {
    super(
      `commit LSN ${commitLsn} is above 1FFFFF/FFFFFFFF, the largest an Elasticsearch version can carry with this encoding; the search-indexer cannot order changes of this server (see packages/search-sink/README.md, Versions)`,
    );
    this.name = 'VersionRangeError';
  }
}

/** The Elasticsearch version of a change (see above). Throws VersionRangeError past 2^53 of WAL. */
export function documentVersion(source: Pick<ChangeSource, 'commitLsn' | 'seq'>): bigint {
  const commit = parseLsn(source.commitLsn);
  if (commit > MAX_VERSION_LSN) throw new VersionRangeError(source.commitLsn);
  const seq = BigInt(Math.max(0, Math.trunc(source.seq)));
  return (commit << SEQ_BITS) | (seq > MAX_SEQ ? MAX_SEQ : seq);
}

/** The smallest version of any change committed at or after this LSN (a generation's floor). */
export function versionAtLsn(lsn: string): bigint {
  const value = parseLsn(lsn);
  if (value > MAX_VERSION_LSN) throw new VersionRangeError(lsn);
  return value << SEQ_BITS;
}

/** The exact order of two changes of one row: (commitLsn, lsn), as docs/events.md defines it. */
export function compareChanges(
  a: Pick<ChangeSource, 'commitLsn' | 'lsn'>,
  b: Pick<ChangeSource, 'commitLsn' | 'lsn'>,
): number {
  return compareLsn(a.commitLsn, b.commitLsn) || compareLsn(a.lsn, b.lsn);
}
