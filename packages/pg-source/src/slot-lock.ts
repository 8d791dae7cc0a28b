import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * One active worker per slot: a session-level PostgreSQL advisory lock, held on a connection
 * of its own for as long as the worker streams. A standby with the same config waits on it;
 * when the active worker dies, PostgreSQL ends its session, the lock is released, and the
 * standby takes over within one poll interval.
 */
export class SlotLock {
  private client: pg.Client | null = null;
  private lost: ((error: Error) => void) | null = null;

  constructor(
    private readonly connectionString: string,
    private readonly slot: string,
  ) {}

  /** The lock id: a stable 63-bit hash of the slot name, so every worker of a slot agrees. */
  get lockId(): string {
    return BigInt.asIntN(
      64,
      createHash('sha256').update(`cdc-cache:${this.slot}`).digest().readBigUInt64BE(0),
    ).toString();
  }

  /**
   * Waits until this process holds the lock. `onWaiting` is called once if another holds it.
   * Resolves with `lost`, a promise that rejects if the lock's connection is lost later (the
   * worker must then stop streaming at once: another may already have taken over). It is
   * wrapped in an object because an async function returning a promise would wait for it.
   */
  async acquire(
    options: { pollMs?: number; signal?: AbortSignal; onWaiting?: () => void } = {},
  ): Promise<{ lost: Promise<never> }> {
    let announced = false;
    while (!options.signal?.aborted) {
      const client = new pg.Client({
        connectionString: this.connectionString,
        application_name: `cdc-cache lock ${this.slot}`,
      });
      await client.connect();
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1::bigint) AS locked',
        [this.lockId],
      );
      if (rows[0]?.locked) {
        this.client = client;
        const lostLock = new Promise<never>((_, reject) => {
          this.lost = reject;
        });
        lostLock.catch(() => undefined);
        const onLost = (error?: Error) =>
          this.lost?.(
            new Error(`lost the slot lock connection (${error?.message ?? 'closed'}); stopping the stream`),
          );
        client.on('error', onLost);
        client.on('end', () => onLost());
        return { lost: lostLock };
      }
      await client.end();
      if (!announced) {
        announced = true;
        options.onWaiting?.();
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1_000));
    }
    throw new Error('stopped while waiting for the slot lock');
  }

  async release(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.lost = null;
    if (!client) return;
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [this.lockId]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}
