import type { ChangeEvent } from '@cdc-cache/core';
import { describe, expect, it } from 'vitest';
import { DocumentShaper } from './documents.js';

function event(partial: Partial<ChangeEvent> & Pick<ChangeEvent, 'op'>): ChangeEvent {
  return {
    source: {
      db: 'shop',
      schema: 'public',
      table: 'users',
      lsn: '0/10',
      commitLsn: '0/20',
      txId: 7,
      commitTime: '2026-11-20T09:15:02.113Z',
      seq: 0,
    },
    key: { id: '42' },
    before: null,
    after: null,
    unchangedToast: [],
    ...partial,
  };
}

const shaper = new DocumentShaper({ table: 'public.users', index: 'users', fields: ['name', 'bio'] });

describe('document changes', () => {
  it('index the configured fields under the canonical primary key', () => {
    const [change] = shaper.changesFor(
      event({ op: 'c', after: { id: '42', name: 'Ada', bio: 'b', email: 'ada@example.com' } }),
    );
    expect(change).toEqual({
      kind: 'upsert',
      id: '{"id":"42"}',
      document: {
        name: 'Ada',
        bio: 'b',
        _cdc: { commitLsn: '0/20', lsn: '0/10', commitTime: '2026-11-20T09:15:02.113Z' },
      },
      missing: [],
    });
  });

  it('never write an unchanged TOAST column: it is listed as missing instead', () => {
    const [change] = shaper.changesFor(
      event({ op: 'u', after: { id: '42', name: 'Ada King' }, unchangedToast: ['bio'] }),
    );
    expect(change).toMatchObject({ kind: 'upsert', missing: ['bio'] });
    expect(change?.kind === 'upsert' && Object.hasOwn(change.document, 'bio')).toBe(false);
  });

  it('turn a delete into a tombstone of the same id', () => {
    const [change] = shaper.changesFor(event({ op: 'd', before: { id: '42' } }));
    expect(change).toMatchObject({
      kind: 'delete',
      id: '{"id":"42"}',
      document: { _cdc: { deleted: true } },
    });
  });

  it('delete the old document when the primary key changes', () => {
    const changes = shaper.changesFor(
      event({ op: 'u', key: { id: '43' }, before: { id: '42' }, after: { id: '43', name: 'Ada', bio: 'b' } }),
    );
    expect(changes.map((change) => [change.kind, 'id' in change ? change.id : null])).toEqual([
      ['delete', '{"id":"42"}'],
      ['upsert', '{"id":"43"}'],
    ]);
  });

  it('render an id template, and say what is missing when a delete lacks its columns', () => {
    const templated = new DocumentShaper({
      table: 'public.users',
      index: 'users',
      fields: ['name'],
      id: '{tenant}:{id}',
    });
    const [upsert] = templated.changesFor(
      event({ op: 'r', after: { id: '42', tenant: 'acme', name: 'Ada' } }),
    );
    expect(upsert).toMatchObject({ kind: 'upsert', id: 'acme:42' });
    const [refused] = templated.changesFor(event({ op: 'd', before: { id: '42' } }));
    expect(refused).toMatchObject({ kind: 'invalid' });
    expect(refused?.kind === 'invalid' && refused.reason).toMatch(/REPLICA IDENTITY FULL/);
  });

  it('refuse a field named like the indexer own metadata', () => {
    expect(() => new DocumentShaper({ table: 'public.t', index: 't', fields: ['_cdc'] })).toThrow(/reserved/);
  });
});
