import { describe, expect, it } from 'vitest';
import {
  compareChanges,
  documentVersion,
  MAX_VERSION,
  MAX_VERSION_LSN,
  VersionRangeError,
  versionAtLsn,
} from './version.js';

describe('document versions', () => {
  it('order changes by commit LSN first, then by position in the transaction', () => {
    const earlyInTx = documentVersion({ commitLsn: '0/1A2B7E8', seq: 0 });
    const laterInTx = documentVersion({ commitLsn: '0/1A2B7E8', seq: 1 });
    const nextTx = documentVersion({ commitLsn: '0/1A2B800', seq: 0 });
    expect(earlyInTx < laterInTx).toBe(true);
    expect(laterInTx < nextTx).toBe(true);
  });

  it('put a snapshot read below a change that committed after its watermark, whatever that change lsn', () => {
    // The transaction changed the row at 0/100 and committed at 0/300; the snapshot read it at 0/200.
    const read = documentVersion({ commitLsn: '0/200', seq: 7 });
    const change = documentVersion({ commitLsn: '0/300', seq: 0 });
    expect(read < change).toBe(true);
    expect(
      compareChanges({ commitLsn: '0/200', lsn: '0/200' }, { commitLsn: '0/300', lsn: '0/100' }),
    ).toBeLessThan(0);
  });

  it('saturate the position at 1023 so that a big transaction never spills into the next commit', () => {
    const last = documentVersion({ commitLsn: '0/1000', seq: 5_000_000 });
    expect(last).toBe(documentVersion({ commitLsn: '0/1000', seq: 1023 }));
    expect(last < documentVersion({ commitLsn: '0/1001', seq: 0 })).toBe(true);
  });

  it('fit Elasticsearch versions up to the largest commit LSN, and refuse larger ones', () => {
    expect(documentVersion({ commitLsn: '1FFFFF/FFFFFFFF', seq: 2000 })).toBe(MAX_VERSION);
    expect(MAX_VERSION_LSN).toBe(2n ** 53n - 1n);
    expect(() => documentVersion({ commitLsn: '200000/0', seq: 0 })).toThrow(VersionRangeError);
  });

  it('place a floor at an LSN below every change committed there or later', () => {
    expect(versionAtLsn('0/300')).toBe(documentVersion({ commitLsn: '0/300', seq: 0 }));
    expect(versionAtLsn('0/300') > documentVersion({ commitLsn: '0/2FF', seq: 1023 })).toBe(true);
  });
});
