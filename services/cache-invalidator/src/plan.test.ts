import { fenceVersion } from '@cdc-cache/cache-stores';
import type { ChangeEvent } from '@cdc-cache/core';
import { describe, expect, it } from 'vitest';
import { planEvent } from './plan.js';
import { compileRules } from './rules.js';

const stores = {
  redis: { keyPrefix: 'p:', maxKeyBytes: 1024 },
  memcached: { keyPrefix: 'p:', maxKeyBytes: 248 },
};
const rule = compileRules(
  [
    {
      table: 'public.users',
      keys: [
        { key: 'user:{id}', store: 'redis', action: 'refresh', ttl: 3600 },
        { key: 'user:email:{email}', store: 'memcached', action: 'evict' },
      ],
    },
  ],
  stores,
).get('public.users')!;

function event(partial: Partial<ChangeEvent>): ChangeEvent {
  return {
    op: 'u',
    source: {
      db: 'shop',
      schema: 'public',
      table: 'users',
      lsn: '0/10',
      commitLsn: '0/20',
      txId: 1,
      commitTime: '2026-11-20T09:15:02.113Z',
      seq: 0,
    },
    key: { id: '42' },
    before: null,
    after: { id: '42', email: 'ada@example.com', name: 'Ada' },
    unchangedToast: [],
    ...partial,
  };
}

describe('planEvent', () => {
  it('an insert refreshes with the row document and evicts the evict keys', () => {
    const plan = planEvent(event({ op: 'c' }), rule);
    expect(plan.problems).toEqual([]);
    expect(plan.ops).toEqual([
      expect.objectContaining({
        kind: 'refresh',
        store: 'redis',
        route: 'p:user:42',
        row: { id: '42' },
        value: '{"email":"ada@example.com","id":"42","name":"Ada"}',
        ttl: 3600,
        version: fenceVersion('0/20', '0/10'),
      }),
      expect.objectContaining({ kind: 'evict', store: 'memcached', route: 'p:user:email:ada%40example.com' }),
    ]);
  });

  it('an update that changes a key input evicts the key computed from the before-image', () => {
    const plan = planEvent(event({ before: { id: '42', email: 'old@example.com', name: 'Ada' } }), rule);
    expect(plan.ops.map((op) => `${op.kind} ${op.kind === 'truncate' ? '' : op.route}`)).toEqual([
      'refresh p:user:42',
      'evict p:user:email:ada%40example.com',
      'evict p:user:email:old%40example.com',
    ]);
  });

  it('a delete evicts every key from the before-image', () => {
    const plan = planEvent(
      event({ op: 'd', after: null, before: { id: '42', email: 'ada@example.com', name: 'Ada' } }),
      rule,
    );
    expect(plan.ops.map((op) => `${op.kind} ${op.kind === 'truncate' ? '' : op.route}`)).toEqual([
      'evict p:user:42',
      'evict p:user:email:ada%40example.com',
    ]);
  });

  it('a delete without the columns a key needs is a problem of that key only', () => {
    const plan = planEvent(event({ op: 'd', after: null, before: { id: '42' } }), rule);
    expect(plan.ops.map((op) => op.kind === 'truncate' || op.route)).toEqual(['p:user:42']);
    expect(plan.problems).toEqual([expect.objectContaining({ reason: 'key-render' })]);
    expect(plan.problems[0]!.message).toContain('"email" is missing');
  });

  it('an unchanged TOAST column turns a refresh into an evict', () => {
    const plan = planEvent(
      event({ after: { id: '42', email: 'ada@example.com' }, unchangedToast: ['name'] }),
      rule,
    );
    expect(plan.ops[0]).toEqual(expect.objectContaining({ kind: 'evict', route: 'p:user:42' }));
  });

  it('a truncate bumps the generation of every store the rule uses', () => {
    const plan = planEvent(event({ op: 't', key: null, after: null }), rule);
    expect(plan.ops.map((op) => `${op.kind} ${op.store}`)).toEqual(['truncate redis', 'truncate memcached']);
  });

  it('a value that cannot be in a key is a problem, the other keys still apply', () => {
    const plan = planEvent(event({ op: 'c', after: { id: '42', email: null } }), rule);
    expect(plan.ops).toHaveLength(1);
    expect(plan.problems[0]!.message).toContain('NULL');
  });
});
