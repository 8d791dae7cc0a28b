import { compareLsn, type Lsn } from '@cdc-cache/core';

/**
 * Decides which LSN may be confirmed to PostgreSQL. Positions are added in WAL order, each
 * with the promise that its work is durable (Kafka acknowledged every event of the
 * transaction). A position is released only when it and every position before it are done,
 * so an LSN is never confirmed while anything before it is unacknowledged. A failed
 * position blocks the queue for good: the owner must restart from the last confirmed LSN.
 */
export class FlushTracker {
  private readonly queue: { lsn: Lsn; done: boolean }[] = [];
  private safe: Lsn;
  private failure: unknown = null;

  constructor(startLsn: Lsn = '0/0') {
    this.safe = startLsn;
  }

  /** The highest LSN whose work, and all work before it, is durable. */
  get safeLsn(): Lsn {
    return this.safe;
  }

  /** Positions added but not yet released. */
  get pending(): number {
    return this.queue.length;
  }

  /** Set once any tracked work failed; nothing is released after it. */
  get failed(): unknown {
    return this.failure;
  }

  add(lsn: Lsn, durable: Promise<unknown>): void {
    const entry = { lsn, done: false };
    this.queue.push(entry);
    durable.then(
      () => {
        entry.done = true;
        this.release();
      },
      (error: unknown) => {
        this.failure ??= error;
      },
    );
  }

  private release(): void {
    if (this.failure !== null) return;
    while (this.queue[0]?.done) {
      const { lsn } = this.queue.shift()!;
      if (compareLsn(lsn, this.safe) > 0) this.safe = lsn;
    }
  }
}
