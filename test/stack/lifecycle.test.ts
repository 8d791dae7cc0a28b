import { status, up } from '@cdc-cache/local-stack';
import { describe, expect, it } from 'vitest';

describe('starting the stack twice', () => {
  it('leaves every running server alone (same pids, still healthy)', async () => {
    const before = await status();
    await up();
    const after = await status();
    expect(after.map(({ name, pid, healthy }) => ({ name, pid, healthy }))).toEqual(
      before.map(({ name, pid }) => ({ name, pid, healthy: true })),
    );
  });
});
