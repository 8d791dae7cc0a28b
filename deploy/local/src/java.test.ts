import { describe, expect, it } from 'vitest';
import { javaMajorFromRelease } from './java.js';

describe('javaMajorFromRelease', () => {
  it('reads modern and 1.x version strings', () => {
    expect(javaMajorFromRelease('IMPLEMENTOR="Debian"\nJAVA_VERSION="17.0.15"\n')).toBe(17);
    expect(javaMajorFromRelease('JAVA_VERSION="1.8.0_392"\n')).toBe(8);
    expect(javaMajorFromRelease('nothing here')).toBeNull();
  });
});
