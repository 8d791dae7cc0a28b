import { describe, expect, it } from 'vitest';
import { KeyedScheduler } from './keyed-scheduler.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('KeyedScheduler', () => {
  it('runs one key in submission order and different keys concurrently, within the limit', async () => {
    const scheduler = new KeyedScheduler(4);
    const log: string[] = [];
    let peak = 0;
    let active = 0;
    const task = (key: string, i: number) =>
      scheduler.run(key, async () => {
        active++;
        peak = Math.max(peak, active);
        await sleep(Math.random() * 5);
        log.push(`${key}${i}`);
        active--;
      });
    await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].flatMap((key) => [0, 1, 2, 3].map((i) => task(key, i))));
    for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) {
      expect(log.filter((entry) => entry.startsWith(key))).toEqual([0, 1, 2, 3].map((i) => `${key}${i}`));
    }
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBeGreaterThan(1);
  });

  it('a failing task does not stop the next task of its key', async () => {
    const scheduler = new KeyedScheduler(2);
    const first = scheduler.run('k', async () => {
      throw new Error('boom');
    });
    const second = scheduler.run('k', async () => 'ok');
    await expect(first).rejects.toThrow('boom');
    await expect(second).resolves.toBe('ok');
  });
});
