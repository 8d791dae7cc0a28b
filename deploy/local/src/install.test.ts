import { describe, expect, it } from 'vitest';
import { installedFromDpkgQuery } from './install.js';

describe('installedFromDpkgQuery', () => {
  it('keeps only fully installed packages, without architecture suffixes', () => {
    const out =
      'redis-server installed\nnginx config-files\nprometheus not-installed\nlibfoo:amd64 installed\n';
    expect([...installedFromDpkgQuery(out)]).toEqual(['redis-server', 'libfoo']);
  });
});
