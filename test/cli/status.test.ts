import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('cdc-cache status', () => {
  it('prints every server of the running stack as healthy and exits 0', async () => {
    const { stdout } = await run('node', ['bin/cdc-cache.mjs', 'status'], { timeout: 60_000 });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^SERVER\s+PORT\s+PID\s+VERSION\s+HEALTH/);
    for (const server of [
      'postgres',
      'kafka',
      'elasticsearch',
      'redis',
      'memcached',
      'nginx',
      'prometheus',
    ]) {
      expect(lines.find((line) => line.startsWith(`${server} `))).toMatch(/\shealthy(\s|$)/);
    }
  });

  it('exits 2 with a one-line hint on an unknown command', async () => {
    const failure = await run('node', ['bin/cdc-cache.mjs', 'frobnicate']).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr.trim()).toBe(
      `cdc-cache: unknown command "frobnicate"; run 'cdc-cache --help' for the list`,
    );
  });
});
