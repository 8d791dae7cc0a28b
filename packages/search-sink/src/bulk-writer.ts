import type { ChangeSource } from '@cdc-cache/core';
import { backoffMs } from '@cdc-cache/runtime';
import { type Elasticsearch, ElasticsearchError } from './elasticsearch.js';
import type { Generation, Targets } from './generations.js';
import { compareChanges } from './version.js';

/** Where an index's writes go (IndexGenerations). */
export interface WriteTargets {
  readonly index: string;
  /** Current and building generations, possibly from a short-lived cache. */
  resolve(): Promise<Targets>;
  /** Forget the cache: a generation was found gone. */
  invalidate(): void;
}

/** One document write: the version fences it in every generation it goes to. */
export interface DocumentWrite {
  generations: WriteTargets;
  id: string;
  version: bigint;
  /** The change it comes from: exact order inside a bulk, end-to-end latency. */
  source: ChangeSource;
  document: Record<string, unknown>;
  /** A tombstone (the row was deleted). */
  deleted: boolean;
}

export type WriteResult =
  | { result: 'indexed' | 'deleted' | 'skipped_stale' }
  | { result: 'failed'; reason: string; attempts: number };

export class SinkClosedError extends Error {
  readonly code = 'SEARCH_SINK_CLOSED';
  constructor() {
    super('the search sink is closing: the write was not confirmed and will be replayed');
    this.name = 'SinkClosedError';
  }
}

/** What the writer reports (the metrics package's shapes fit). */
export interface BulkObserver {
  bulk?(seconds: number, actions: number): void;
  /** A document write scheduled again after a per-item failure (not 429, not a moved target). */
  retry?(reason: string): void;
  /** Elasticsearch answered a bulk (true) or did not (false, with why). Called on changes only. */
  available?(up: boolean, problem: string | null): void;
  /** Elasticsearch pushed back (429): sending pauses for this long. */
  throttled?(delayMs: number): void;
}

export interface BulkWriterOptions {
  /** Most actions in one bulk request (default 1000). */
  bulkActions?: number;
  /** Largest bulk body in bytes, about (default 10 MiB); a single larger document goes alone. */
  maxBulkBytes?: number;
  /** Longest a write waits for a fuller bulk before it is sent (default 20 ms). */
  flushIntervalMs?: number;
  /** Attempts of a write that Elasticsearch refuses before it is given up (default 5). */
  maxAttempts?: number;
  /** Backoff after a refused write: base and cap, doubled per attempt (default 200 ms, 10 s). */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** Backoff while Elasticsearch does not answer or pushes back: base and cap (default 250 ms, 15 s). */
  unavailableBaseMs?: number;
  unavailableCapMs?: number;
  observer?: BulkObserver;
}

interface Pending {
  write: DocumentWrite;
  attempts: number;
  /** Generations this write is done in, with how. */
  done: Map<string, 'written' | 'stale'>;
  notBefore: number;
  queuedAt: number;
  settle(result: WriteResult): void;
  fail(error: Error): void;
  settled: boolean;
}

/**
 * Sends document writes to Elasticsearch in bulk requests with `version_type=external_gte`, one
 * bulk at a time, gathering writes from every partition while the previous bulk is out.
 *
 * - Each write goes to the current generation of its index and to any building one, at most
 *   once each; a generation whose floor is at or above the write's version skips it (stale).
 * - Per item: 2xx written, 409 (version conflict) stale, 429 backpressure (sent again after a
 *   pause, not counted as an attempt), 404 target gone (the generation was replaced: looked up
 *   again), anything else a failed attempt, retried with backoff up to maxAttempts, then given up
 *   with the reason (the caller dead-letters it).
 * - A whole bulk that gets no answer, a 5xx or a 429 is sent again after a growing pause, for as
 *   long as it takes: nothing is dropped while Elasticsearch is away.
 */
export class BulkWriter {
  private readonly queue: Pending[] = [];
  private readonly bulkActions: number;
  private readonly flushIntervalMs: number;
  private readonly maxAttempts: number;
  private readonly maxBulkBytes: number;
  private closed = false;
  private wake: (() => void) | null = null;
  private interrupt: (() => void) | null = null;
  private readonly loop: Promise<void>;
  private up: boolean | null = null;
  private outage = 0;
  private throttleStreak = 0;

  constructor(
    private readonly es: Elasticsearch,
    private readonly options: BulkWriterOptions = {},
  ) {
    this.bulkActions = options.bulkActions ?? 1000;
    this.flushIntervalMs = options.flushIntervalMs ?? 20;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.maxBulkBytes = options.maxBulkBytes ?? 10 * 1024 * 1024;
    this.loop = this.run();
  }

  write(write: DocumentWrite): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new SinkClosedError());
    return new Promise<WriteResult>((resolve, reject) => {
      const pending: Pending = {
        write,
        attempts: 0,
        done: new Map(),
        notBefore: 0,
        queuedAt: Date.now(),
        settled: false,
        settle: (result) => {
          if (pending.settled) return;
          pending.settled = true;
          resolve(result);
        },
        fail: (error) => {
          if (pending.settled) return;
          pending.settled = true;
          reject(error);
        },
      };
      this.queue.push(pending);
      this.poke();
    });
  }

  /** Whether the last bulk got an answer (null before the first). */
  get available(): boolean | null {
    return this.up;
  }

  /** Stops sending; writes not confirmed yet are rejected with SinkClosedError. */
  async close(): Promise<void> {
    this.closed = true;
    this.poke();
    this.interrupt?.();
    await this.loop;
    for (const pending of this.queue.splice(0)) pending.fail(new SinkClosedError());
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      const batch = this.take();
      if (batch === null) {
        await this.sleepUntilWork();
        continue;
      }
      await this.send(batch);
    }
  }

  /** The next bulk's writes, or null when nothing is due yet. */
  private take(): Pending[] | null {
    const now = Date.now();
    let ready = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (const pending of this.queue) {
      if (pending.notBefore > now) continue;
      ready++;
      oldest = Math.min(oldest, pending.queuedAt);
    }
    if (ready === 0) return null;
    if (ready < this.bulkActions && now - oldest < this.flushIntervalMs) return null;
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    for (const pending of this.queue) {
      if (pending.notBefore <= now && batch.length < this.bulkActions) batch.push(pending);
      else rest.push(pending);
    }
    this.queue.length = 0;
    this.queue.push(...rest);
    return this.collapse(batch);
  }

  /** Several writes of one document in one bulk: only the newest is sent, the others are stale. */
  private collapse(batch: Pending[]): Pending[] {
    const newest = new Map<string, Pending>();
    const kept: Pending[] = [];
    for (const pending of batch) {
      const key = `${pending.write.generations.index}\u0000${pending.write.id}`;
      const other = newest.get(key);
      if (other === undefined) {
        newest.set(key, pending);
        kept.push(pending);
        continue;
      }
      const [winner, loser] =
        compareChanges(pending.write.source, other.write.source) >= 0 ? [pending, other] : [other, pending];
      newest.set(key, winner);
      if (winner === pending) kept[kept.indexOf(other)] = pending;
      loser.settle({ result: 'skipped_stale' });
    }
    return kept;
  }

  private async sleepUntilWork(): Promise<void> {
    const now = Date.now();
    let until = Number.POSITIVE_INFINITY;
    for (const pending of this.queue) {
      until = Math.min(
        until,
        pending.notBefore > now ? pending.notBefore : pending.queuedAt + this.flushIntervalMs,
      );
    }
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      if (Number.isFinite(until)) setTimeout(resolve, Math.max(1, until - now));
    });
    this.wake = null;
  }

  /** A pause that only close() cuts short (new writes do not). */
  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.interrupt = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.interrupt = null;
  }

  private async send(taken: Pending[]): Promise<void> {
    let batch = taken;
    // Where each write goes, as of now (generations may have moved since it was queued).
    const targetsOf = new Map<WriteTargets, Generation[]>();
    let lines = '';
    const actions: { pending: Pending; generation: Generation }[] = [];
    try {
      for (const pending of batch) {
        const generations = pending.write.generations;
        if (!targetsOf.has(generations)) {
          const targets = await generations.resolve();
          targetsOf.set(generations, [targets.current, ...targets.building]);
        }
      }
    } catch (error) {
      await this.unavailable(batch, error);
      return;
    }
    // Writes past the size limit wait for the next bulk (Elasticsearch refuses bodies over
    // http.max_content_length, 100 MB by default; big TOAST values can get there).
    const deferred: Pending[] = [];
    for (const pending of batch) {
      if (lines.length >= this.maxBulkBytes && actions.length > 0) {
        deferred.push(pending);
        continue;
      }
      const targets = targetsOf.get(pending.write.generations)!;
      for (const generation of targets) {
        if (pending.done.has(generation.name)) continue;
        if (pending.write.version <= generation.floor) {
          pending.done.set(generation.name, 'stale');
          continue;
        }
        lines += actionLine(generation.writeAlias, pending.write);
        lines += `${JSON.stringify(pending.write.document)}\n`;
        actions.push({ pending, generation });
      }
    }
    if (deferred.length > 0) {
      this.queue.unshift(...deferred);
      batch = batch.filter((pending) => !deferred.includes(pending));
    }
    if (actions.length > 0) {
      const started = process.hrtime.bigint();
      let items: BulkItem[];
      try {
        const { body } = await this.es.request<{ items?: Record<string, BulkItemResult>[] }>(
          'POST',
          '/_bulk?require_alias=true&filter_path=items.*.status,items.*.error.type,items.*.error.reason',
          undefined,
          { ndjson: lines },
        );
        items = (body?.items ?? []).map((item) => Object.values(item)[0] ?? { status: 0 });
      } catch (error) {
        await this.unavailable(batch, error);
        return;
      }
      this.options.observer?.bulk?.(Number(process.hrtime.bigint() - started) / 1e9, actions.length);
      this.setAvailable(true, null);
      this.outage = 0;
      let throttled = false;
      actions.forEach(({ pending, generation }, index) => {
        const item = items[index] ?? { status: 0, error: { type: 'missing', reason: 'no result' } };
        if (item.status >= 200 && item.status < 300) pending.done.set(generation.name, 'written');
        else if (item.status === 409) pending.done.set(generation.name, 'stale');
        else if (item.status === 429) throttled = true;
        else if (item.status === 404 && item.error?.type === 'index_not_found_exception') {
          // The generation was replaced since it was looked up: look again before the retry.
          pending.write.generations.invalidate();
        } else {
          const reason = `${item.status} ${item.error?.type ?? ''}: ${item.error?.reason ?? 'no reason given'}`;
          this.refused(pending, generation, reason);
        }
      });
      if (!throttled) this.throttleStreak = 0;
      else {
        // Backpressure: nothing more is sent until the pause is over (the consumers wait too).
        const delay = backoffMs(
          this.throttleStreak++,
          this.options.unavailableBaseMs ?? 250,
          this.options.unavailableCapMs ?? 15_000,
        );
        this.options.observer?.throttled?.(delay);
        this.requeue(batch, targetsOf);
        if (!this.closed) await this.pause(delay);
        return;
      }
    }
    this.requeue(batch, targetsOf);
  }

  /** Settles the writes done in every target; the others go back to the queue. */
  private requeue(batch: Pending[], targetsOf: Map<WriteTargets, Generation[]>): void {
    for (const pending of batch) {
      if (pending.settled) continue;
      const targets = targetsOf.get(pending.write.generations)!;
      if (targets.every((generation) => pending.done.has(generation.name))) {
        const outcome = pending.done.get(targets[0]!.name);
        pending.settle({
          result: outcome === 'stale' ? 'skipped_stale' : pending.write.deleted ? 'deleted' : 'indexed',
        });
      } else {
        this.queue.push(pending);
      }
    }
  }

  /** Elasticsearch refused one write: try again later, or give up after maxAttempts. */
  private refused(pending: Pending, generation: Generation | null, reason: string): void {
    pending.attempts++;
    if (pending.attempts >= this.maxAttempts) {
      pending.settle({
        result: 'failed',
        reason: `${generation ? `${generation.name}: ` : ''}${reason} (after ${pending.attempts} attempts)`,
        attempts: pending.attempts,
      });
      return;
    }
    this.options.observer?.retry?.(reason);
    pending.notBefore =
      Date.now() +
      backoffMs(pending.attempts - 1, this.options.retryBaseMs ?? 200, this.options.retryCapMs ?? 10_000);
  }

  /**
   * No usable answer to the whole bulk. No answer, a 5xx or a 429: put it back and pause, as
   * long as it takes. Another 4xx refuses every write in it: each counts as a failed attempt.
   */
  private async unavailable(batch: Pending[], error: unknown): Promise<void> {
    const problem = error instanceof Error ? error.message : String(error);
    for (const generations of new Set(batch.map((pending) => pending.write.generations))) {
      generations.invalidate();
    }
    const status = error instanceof ElasticsearchError ? error.status : 0;
    if (status >= 400 && status < 500 && status !== 429) {
      this.setAvailable(true, null);
      for (const pending of batch) {
        this.refused(pending, null, problem);
        if (!pending.settled) this.queue.push(pending);
      }
      return;
    }
    this.setAvailable(false, problem);
    this.queue.unshift(...batch.filter((pending) => !pending.settled));
    const delay = backoffMs(
      this.outage++,
      this.options.unavailableBaseMs ?? 250,
      this.options.unavailableCapMs ?? 15_000,
    );
    if (status === 429) this.options.observer?.throttled?.(delay);
    if (!this.closed) await this.pause(delay);
  }

  private setAvailable(up: boolean, problem: string | null): void {
    if (this.up === up) return;
    this.up = up;
    this.options.observer?.available?.(up, problem);
  }
}

interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string };
}
type BulkItem = BulkItemResult;

function actionLine(target: string, write: DocumentWrite): string {
  // The version is written by hand: a JSON number above 2^53 must keep every digit.
  return `{"index":{"_index":${JSON.stringify(target)},"_id":${JSON.stringify(write.id)},"version":${write.version.toString()},"version_type":"external_gte"}}\n`;
}
