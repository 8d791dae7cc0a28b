import { describe, expect, it } from 'vitest';
import { OrderedSendQueue } from './ordered-send-queue.js';
import type { ProducerRecord } from './types.js';

/** A request sender the test completes by hand: pure queue logic, no broker. */
function manualSender() {
  const requests: { records: ProducerRecord[]; resolve(): void; reject(error: Error): void }[] = [];
  const send = (records: ProducerRecord[]) =>
    new Promise<void>((resolve, reject) => {
      requests.push({ records, resolve, reject });
    });
  return { requests, send };
}

const record = (value: string): ProducerRecord => ({ topic: 't', key: 'k', value });
const values = (records: ProducerRecord[]) => records.map((r) => r.value);
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ordered sends', () => {
  it('keeps one request in flight and coalesces overlapping calls in call order', async () => {
    const sender = manualSender();
    const queue = new OrderedSendQueue(sender.send, { maxRequestBytes: 1_000_000 });
    const first = queue.send([record('a1'), record('a2')]);
    const second = queue.send([record('b1')]);
    const third = queue.send([record('c1'), record('c2')]);
    expect(sender.requests).toHaveLength(1);
    expect(values(sender.requests[0]!.records)).toEqual(['a1', 'a2']);

    sender.requests[0]!.resolve();
    await first;
    await tick();
    expect(sender.requests).toHaveLength(2);
    expect(values(sender.requests[1]!.records)).toEqual(['b1', 'c1', 'c2']);
    sender.requests[1]!.resolve();
    await Promise.all([second, third]);
    await queue.idle();
  });

  it('splits a large call into requests of bounded size and resolves it after the last', async () => {
    const sender = manualSender();
    const queue = new OrderedSendQueue(sender.send, { maxRequestBytes: 100 });
    const big = Array.from({ length: 5 }, (_, i) => record(`${i}`.padStart(40, '0')));
    let resolved = false;
    const sent = queue.send(big).then(() => {
      resolved = true;
    });
    for (let i = 0; i < 5; i++) {
      await tick();
      expect(resolved).toBe(false);
      sender.requests[i]!.resolve();
    }
    await sent;
    expect(sender.requests.flatMap((r) => values(r.records))).toEqual(values(big));
  });

  it('fails every call queued behind a failed request and recovers before sending again', async () => {
    const sender = manualSender();
    const events: string[] = [];
    const queue = new OrderedSendQueue(sender.send, {
      maxRequestBytes: 1_000_000,
      onFailure: async () => {
        events.push('recover');
      },
    });
    const first = queue.send([record('a')]);
    const second = queue.send([record('b')]);
    first.catch(() => events.push('first rejected'));
    second.catch(() => events.push('second rejected'));
    sender.requests[0]!.reject(new Error('broker said no'));
    await expect(first).rejects.toThrow('broker said no');
    await expect(second).rejects.toThrow('broker said no');
    expect(events).toEqual(['recover', 'first rejected', 'second rejected']);
    expect(sender.requests).toHaveLength(1);

    const third = queue.send([record('c')]);
    expect(values(sender.requests[1]!.records)).toEqual(['c']);
    sender.requests[1]!.resolve();
    await third;
  });
});
