import type { ProducerRecord } from './types.js';

/**
 * Keeps `Producer.send` ordered when calls overlap, whatever the client does inside.
 *
 * Neither client keeps order across overlapping sends of an idempotent producer by itself:
 * @platformatic/kafka builds a request (with the partition's sequence number) as soon as
 * send() is called but advances the sequence only when the answer arrives, so two
 * overlapping sends to one partition carry the same sequence (the broker rejects the second
 * as out of order, or drops it as a duplicate when the counts match). KafkaJS holds a lock
 * per broker around each request, but when a request fails it gives its sequence numbers
 * back and retries after the lock is released, so a later send can overtake it.
 *
 * So the queue lets one request be in flight per producer, like Java's producer with
 * `max.in.flight.requests.per.connection=1`, and makes up for it by coalescing: records of
 * every call that arrives while a request is in flight go out together in the next one (up
 * to `maxRequestBytes`), in call order. Within a request each partition's records form one
 * batch, in order. A call resolves when all of its records are acknowledged.
 *
 * When a request fails, it and every call queued behind it reject with that error (none of
 * their records may overtake the failed ones), and `onFailure` runs before anything else is
 * sent: the adapter starts a new producer id there, so that sequence numbers of a request
 * that may have been written are never reused.
 */
export class OrderedSendQueue {
  private queue: PendingSend[] = [];
  private inFlight = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly sendRequest: (records: ProducerRecord[]) => Promise<void>,
    private readonly options: { maxRequestBytes: number; onFailure?: (error: unknown) => Promise<void> },
  ) {}

  send(records: ProducerRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, taken: 0, acknowledged: 0, resolve, reject });
      this.pump();
    });
  }

  /** Resolves when nothing is queued or in flight (failures go to the callers of send). */
  idle(): Promise<void> {
    if (!this.inFlight && this.queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    if (this.inFlight) return;
    if (this.queue.length === 0) {
      for (const wake of this.idleWaiters.splice(0)) wake();
      return;
    }
    const request: ProducerRecord[] = [];
    const parts: { send: PendingSend; count: number }[] = [];
    let bytes = 0;
    fill: for (const pending of this.queue) {
      let count = 0;
      while (pending.taken < pending.records.length) {
        const record = pending.records[pending.taken]!;
        const size = recordBytes(record);
        if (request.length > 0 && bytes + size > this.options.maxRequestBytes) {
          if (count > 0) parts.push({ send: pending, count });
          break fill;
        }
        request.push(record);
        bytes += size;
        pending.taken++;
        count++;
      }
      if (count > 0) parts.push({ send: pending, count });
    }
    this.inFlight = true;
    this.sendRequest(request).then(
      () => {
        for (const { send, count } of parts) send.acknowledged += count;
        while (this.queue[0] !== undefined && this.queue[0].acknowledged === this.queue[0].records.length) {
          this.queue.shift()!.resolve();
        }
        this.inFlight = false;
        this.pump();
      },
      (error: unknown) => {
        const recover = this.options.onFailure?.(error) ?? Promise.resolve();
        recover
          .catch(() => undefined)
          .finally(() => {
            // Everything sent before the failure could be seen (also during recovery) fails too.
            for (const send of this.queue.splice(0)) send.reject(error);
            this.inFlight = false;
            this.pump();
          });
      },
    );
  }
}

interface PendingSend {
  records: ProducerRecord[];
  /** Records put into a request so far. */
  taken: number;
  acknowledged: number;
  resolve(): void;
  reject(error: unknown): void;
}

/** Bytes a record takes in a request, roughly (record overhead included). */
function recordBytes(record: ProducerRecord): number {
  let size = 24 + byteLength(record.key) + byteLength(record.value);
  if (record.headers)
    for (const [name, value] of Object.entries(record.headers)) size += 8 + name.length + value.length;
  return size;
}

function byteLength(data: Buffer | string | null): number {
  if (data === null) return 0;
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}
