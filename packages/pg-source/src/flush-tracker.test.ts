import { describe, expect, it } from 'vitest';
import { FlushTracker } from './flush-tracker.js';

function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('FlushTracker', () => {
  it('never releases a position while an earlier one is unacknowledged', async () => {
    const tracker = new FlushTracker('0/10');
    const first = deferred();
    const second = deferred();
    tracker.add('0/20', first.promise);
    tracker.add('0/30', second.promise);
    second.resolve();
    await tick();
    expect(tracker.safeLsn).toBe('0/10');
    first.resolve();
    await tick();
    expect(tracker.safeLsn).toBe('0/30');
    expect(tracker.pending).toBe(0);
  });

  it('stops releasing for good once any work failed', async () => {
    const tracker = new FlushTracker('0/10');
    const first = deferred();
    const second = deferred();
    tracker.add('0/20', first.promise);
    tracker.add('0/30', second.promise);
    first.reject(new Error('kafka down'));
    second.resolve();
    await tick();
    expect(tracker.safeLsn).toBe('0/10');
    expect(tracker.failed).toBeInstanceOf(Error);
  });

  it('compares LSNs as 64-bit numbers, not as text', async () => {
    const tracker = new FlushTracker('0/FFFFFFFF');
    tracker.add('1/0', Promise.resolve());
    await tick();
    expect(tracker.safeLsn).toBe('1/0');
  });
});
