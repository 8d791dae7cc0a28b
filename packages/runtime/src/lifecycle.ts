import type { Logger } from 'pino';

/**
 * Drains on SIGTERM/SIGINT: runs the shutdown steps in order (stop taking work, finish what
 * is in flight, commit), then exits 0. A second signal, or a drain over the time limit,
 * exits 1 at once: nothing is lost either way, since unconfirmed work is replayed.
 */
export function drainOnSignals(log: Logger, drain: () => Promise<void>, timeoutMs = 30_000): void {
  let draining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) {
      log.warn({ signal }, 'second signal: exiting without finishing the drain');
      process.exit(1);
    }
    draining = true;
    log.info({ signal, timeoutMs }, 'draining');
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, 'drain took too long: exiting; unconfirmed work will be replayed');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    drain().then(
      () => {
        log.info('drained; exiting');
        log.flush();
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'drain failed; unconfirmed work will be replayed');
        log.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped. */
export function backoffMs(attempt: number, baseMs = 500, capMs = 30_000): number {
  const exponential = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(exponential / 2 + (Math.random() * exponential) / 2);
}
