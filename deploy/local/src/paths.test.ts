import { describe, expect, it } from 'vitest';
import { ancestors, fallbackStateDir, traversableByOthers } from './paths.js';

describe('state folder fallback', () => {
  it('is stable per repository path and distinct between clones', () => {
    expect(fallbackStateDir('/root/cdc-cache')).toBe(fallbackStateDir('/root/cdc-cache'));
    expect(fallbackStateDir('/root/cdc-cache')).not.toBe(fallbackStateDir('/root/other'));
    expect(fallbackStateDir('/root/cdc-cache')).toMatch(/^\/var\/lib\/cdc-cache\/[0-9a-f]{12}$/);
  });

  it('needs the others-execute bit on every folder on the way', () => {
    expect(traversableByOthers([0o40755, 0o40711, 0o40755])).toBe(true);
    expect(traversableByOthers([0o40755, 0o40700, 0o40755])).toBe(false);
    expect(traversableByOthers([0o40750])).toBe(false);
  });

  it('lists a folder and its parents up to /', () => {
    expect(ancestors('/work/main/')).toEqual(['/work/main', '/work', '/']);
  });
});
