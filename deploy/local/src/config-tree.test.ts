import { describe, expect, it } from 'vitest';
import { mapTree, treesEqual } from './config-tree.js';

describe('config trees', () => {
  const a = new Map([
    ['nginx.conf', Buffer.from('x')],
    ['lua/resty/redis.lua', Buffer.from('y')],
  ]);

  it('compares by paths and contents', () => {
    expect(treesEqual(a, new Map(a))).toBe(true);
    expect(treesEqual(a, new Map([...a, ['extra.conf', Buffer.from('')]]))).toBe(false);
    expect(
      treesEqual(
        a,
        mapTree(a, (rel, c) => (rel.endsWith('.conf') ? Buffer.from('z') : c)),
      ),
    ).toBe(false);
  });
});
