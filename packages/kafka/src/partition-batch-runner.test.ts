import { describe, expect, it } from 'vitest';
import { PartitionBatchRunner } from './partition-batch-runner.js';
import type { ConsumedMessage, ConsumerBatch } from './types.js';

const message = (partition: number, offset: number): ConsumedMessage => ({
  topic: 't',
  partition,
  offset: `${offset}`,
  key: null,
  value: null,
  headers: {},
  timestamp: '0',
});

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A handler the test releases by hand: pure runner logic, no broker. */
function manualHandler() {
  const calls: { batch: ConsumerBatch; release(): void; fail(error: Error): void }[] = [];
  const handler = (batch: ConsumerBatch) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ batch, release: resolve, fail: reject });
    });
  return { calls, handler };
}

function runner(handler: (batch: ConsumerBatch) => Promise<void>, events: string[] = [], maxBuffered = 100) {
  return new PartitionBatchRunner({
    handler,
    maxBatchSize: 3,
    maxBuffered,
    pause: () => events.push('pause'),
    resume: () => events.push('resume'),
    onError: (error) => events.push(`error: ${(error as Error).message}`),
  });
}

const offsets = (batch: ConsumerBatch) => batch.messages.map((m) => m.offset);

describe('per-partition batches', () => {
  it('hands a partition its next batch only after the previous one finished; partitions run side by side', async () => {
    const { calls, handler } = manualHandler();
    const r = runner(handler);
    r.push(message(0, 0));
    r.push(message(1, 0));
    r.push(message(0, 1));
    r.push(message(0, 2));
    expect(calls.map((c) => [c.batch.partition, offsets(c.batch)])).toEqual([
      [0, ['0']],
      [1, ['0']],
    ]);
    calls[0]!.release();
    await tick();
    expect(calls.map((c) => [c.batch.partition, offsets(c.batch)])).toEqual([
      [0, ['0']],
      [1, ['0']],
      [0, ['1', '2']],
    ]);
  });

  it('never goes backwards within a partition when a rebalance makes the client fetch again', async () => {
    const { calls, handler } = manualHandler();
    const r = runner(handler);
    for (const offset of [0, 1, 2, 3]) r.push(message(0, offset));
    for (const offset of [2, 3, 4]) r.push(message(0, offset)); // fetched again from the committed offset
    calls[0]!.release();
    await tick();
    calls[1]!.release();
    await tick();
    expect(calls.map((c) => offsets(c.batch))).toEqual([['0'], ['1', '2', '3'], ['4']]);
  });

  it('drops what is buffered for a partition this member lost', async () => {
    const { calls, handler } = manualHandler();
    const r = runner(handler);
    for (const offset of [0, 1, 2]) r.push(message(0, offset));
    r.retain(() => false);
    calls[0]!.release();
    await tick();
    expect(calls).toHaveLength(1);
    r.push(message(0, 1)); // assigned again: from its committed offset
    expect(offsets(calls[1]!.batch)).toEqual(['1']);
  });

  it('pauses the source when too much is buffered and resumes at half', async () => {
    const events: string[] = [];
    const { calls, handler } = manualHandler();
    const r = runner(handler, events, 4);
    for (const offset of [0, 1, 2, 3, 4]) r.push(message(0, offset));
    expect(events).toEqual(['pause']);
    calls[0]!.release();
    await tick();
    expect(events).toEqual(['pause', 'resume']);
  });

  it('stops at the first handler error and reports it once', async () => {
    const events: string[] = [];
    const { calls, handler } = manualHandler();
    const r = runner(handler, events);
    r.push(message(0, 0));
    r.push(message(1, 0));
    r.push(message(0, 1));
    calls[0]!.fail(new Error('no'));
    calls[1]!.fail(new Error('again'));
    await tick();
    r.push(message(1, 1));
    expect(events).toEqual(['error: no']);
    expect(calls).toHaveLength(2);
    await r.stop();
  });
});
