import { type Lsn, parseLsn } from '@cdc-cache/core';
import type { Producer, TopicAdmin } from '@cdc-cache/kafka';
import {
  checkReplicaIdentity,
  describeTables,
  emitHeartbeat,
  ensurePublication,
  ensureSlot,
  PostgresSource,
  requestInitialSnapshots,
  SlotLock,
  type SnapshotProgress,
  SnapshotRunner,
  slotHealth,
  type TableDescription,
  type ValueMode,
  WatermarkCoordinator,
} from '@cdc-cache/pg-source';
import pg from 'pg';
import type { EventEncoder } from './replicator.js';
import { Replicator } from './replicator.js';

/** The log calls the worker makes (pino's shape, so a pino logger fits). */
export interface WorkerLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** The metric updates the worker makes (the metrics package's WorkerMetrics fits). */
export interface WorkerGauges {
  active: { set(value: number): void };
  replicationLagBytes: { set(labels: { slot: string }, value: number): void };
  replicationLagSeconds: { set(labels: { slot: string }, value: number): void };
  slotRetainedWalBytes: { set(labels: { slot: string }, value: number): void };
  slotActive: { set(labels: { slot: string }, value: number): void };
  snapshotRows: { inc(labels: { table: string }, value?: number): void };
  snapshotRowsEstimated: { set(labels: { table: string }, value: number): void };
  snapshotRunning: { set(labels: { table: string }, value: number): void };
  confirmedLsn: { set(labels: { slot: string }, value: number): void };
  eventsProduced: { inc(labels: { table: string; op: string }, value?: number): void };
  transactions: { inc(value?: number): void };
  produceLatency: { observe(value: number): void };
  restarts: { inc(labels: { reason: string }): void };
  heartbeats: { inc(): void };
}

export interface CdcWorkerOptions {
  postgres: {
    url: string;
    slot: string;
    publication: string;
    tables: string[];
    keyColumns?: Record<string, string[]>;
    /** Columns whose old value rules need on update/delete, per table (replica identity check). */
    neededOldColumns?: Record<string, string[]>;
    heartbeatIntervalMs: number;
    valueMode: ValueMode;
    /** 'initial': snapshot every table that never had one for this slot; 'never': stream only. */
    snapshot: 'initial' | 'never';
    snapshotChunkSize?: number;
  };
  kafka: { topicPrefix: string; partitions: number };
  producer: Producer;
  admin: TopicAdmin;
  encoder: EventEncoder;
  topicFor: (table: TableDescription) => string;
  log: WorkerLog;
  metrics: WorkerGauges;
  /** Called once the worker streams (holds the lock, set up, connected). */
  onStreaming?: () => void;
  onSnapshotProgress?: (progress: SnapshotProgress) => void;
}

export type WorkerState = 'starting' | 'standby' | 'streaming' | 'retrying' | 'stopped';

/**
 * One cdc-worker: waits for the slot lock (standby), checks the source, creates publication,
 * slot and topics, then streams into Kafka; on any error it restarts the stream from the
 * confirmed LSN with backoff, so a failure replays and never skips.
 */
export class CdcWorker {
  private readonly lock: SlotLock;
  private state: WorkerState = 'starting';
  private lastError: string | null = null;
  private stopping = false;
  private readonly abort = new AbortController();
  private replicator: Replicator | null = null;
  private source: PostgresSource | null = null;
  private timers: NodeJS.Timeout[] = [];
  private admin: pg.Pool | null = null;
  private streaming: Promise<void> | null = null;
  private readonly coordinator = new WatermarkCoordinator();
  private snapshots: SnapshotRunner | null = null;

  constructor(private readonly options: CdcWorkerOptions) {
    this.lock = new SlotLock(options.postgres.url, options.postgres.slot);
  }

  get status(): { state: WorkerState; lastError: string | null; confirmedLsn: Lsn | null } {
    return { state: this.state, lastError: this.lastError, confirmedLsn: this.replicator?.safeLsn ?? null };
  }

  async run(): Promise<void> {
    const { log, metrics, postgres } = this.options;
    this.state = 'standby';
    metrics.active.set(0);
    const { lost: lockLost } = await this.lock.acquire({
      signal: this.abort.signal,
      onWaiting: () =>
        log.info({ slot: postgres.slot }, 'another worker holds the slot: waiting as a standby'),
    });
    if (this.stopping) return;
    metrics.active.set(1);
    log.info({ slot: postgres.slot }, 'holding the slot lock');

    // A pool, not a client: it reconnects by itself after PostgreSQL restarts.
    const admin = new pg.Pool({
      connectionString: postgres.url,
      application_name: 'cdc-cache worker',
      max: 2,
    });
    admin.on('error', (error) => log.warn({ err: error.message }, 'idle PostgreSQL connection failed'));
    this.admin = admin;
    const database = (await admin.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
    const tables = await describeTables(admin, postgres.tables, postgres.keyColumns);
    for (const table of tables) checkReplicaIdentity(table, postgres.neededOldColumns?.[table.name] ?? []);
    await ensurePublication(admin, postgres.publication, postgres.tables);
    const slot = await ensureSlot(admin, postgres.slot);
    log.info({ slot: postgres.slot, created: slot.created, confirmedLsn: slot.confirmedLsn }, 'slot ready');

    const topics = tables.map((table) => this.options.topicFor(table));
    await this.options.admin.ensureTopics(topics, this.options.kafka.partitions);
    const partitionCounts = await this.options.admin.partitionCounts(topics);

    this.startTimers(admin);
    if (postgres.snapshot === 'initial') {
      const requested = await requestInitialSnapshots(admin, postgres.slot, postgres.tables);
      if (requested.length > 0) log.info({ tables: requested }, 'initial snapshot requested');
    }
    this.snapshots = new SnapshotRunner({
      connectionString: postgres.url,
      slot: postgres.slot,
      database,
      tables,
      coordinator: this.coordinator,
      valueMode: postgres.valueMode,
      chunkSize: postgres.snapshotChunkSize,
      onProgress: (progress) => {
        log.info({ ...progress }, progress.done ? 'snapshot done' : 'snapshot progress');
        metrics.snapshotRows.inc({ table: progress.table }, progress.rowsInChunk);
        metrics.snapshotRowsEstimated.set({ table: progress.table }, progress.rowsEstimated);
        metrics.snapshotRunning.set({ table: progress.table }, progress.done ? 0 : 1);
        this.options.onSnapshotProgress?.(progress);
      },
      onError: (error, table) =>
        log.warn({ table, err: error.message }, 'snapshot chunk failed: retrying it'),
    });
    void this.snapshots
      .run()
      .catch((error: Error) => log.error({ err: error.message }, 'snapshot runner stopped'));
    let attempt = 0;
    while (!this.stopping) {
      try {
        this.streaming = this.streamOnce(database, tables, partitionCounts);
        await Promise.race([this.streaming, lockLost]);
        if (this.stopping) break;
        throw new Error('the replication stream ended');
      } catch (error) {
        if (this.stopping) break;
        const message = error instanceof Error ? error.message : String(error);
        this.lastError = message;
        if (/lost the slot lock/.test(message)) throw error;
        this.state = 'retrying';
        const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
        attempt += 1;
        metrics.restarts.inc({ reason: classify(message) });
        log.error(
          { err: message, retryInMs: delay, confirmedLsn: this.replicator?.safeLsn },
          'stream failed: restarting from the confirmed LSN',
        );
        await this.source?.stop().catch(() => undefined);
        this.coordinator.reset(message);
        await sleep(delay, this.abort.signal);
      }
    }
  }

  /** Stops streaming, flushes what is in flight, confirms what is durable, releases the lock. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    // Stop reading, let what was sent be acknowledged and confirmed, then close the stream.
    this.replicator?.stop();
    this.source?.endIteration();
    await Promise.race([this.streaming?.catch(() => undefined), sleep(15_000)]);
    await this.snapshots?.stop();
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.source?.stop().catch(() => undefined);
    await this.admin?.end().catch(() => undefined);
    await this.lock.release();
    this.state = 'stopped';
    this.options.metrics.active.set(0);
  }

  private async streamOnce(
    database: string,
    tables: TableDescription[],
    partitionCounts: Map<string, number>,
  ): Promise<void> {
    const { postgres, metrics, log } = this.options;
    const source = new PostgresSource({
      connectionString: postgres.url,
      database,
      slot: postgres.slot,
      publication: postgres.publication,
      tables,
      valueMode: postgres.valueMode,
    });
    this.source = source;
    await source.start();
    const startLsn = await this.confirmedLsn();
    const replicator = new Replicator(
      {
        producer: this.options.producer,
        encoder: this.options.encoder,
        partitionsOf: (topic) => partitionCounts.get(topic) ?? this.options.kafka.partitions,
        observer: {
          onTransactionDurable: ({ endLsn, commitTime, events }) => {
            this.coordinator.onDurable(endLsn);
            const seconds = Math.max(0, (Date.now() - Date.parse(commitTime)) / 1000);
            metrics.transactions.inc();
            if (events.length > 0) {
              metrics.produceLatency.observe(seconds);
              metrics.replicationLagSeconds.set({ slot: postgres.slot }, seconds);
            }
            for (const event of events) {
              metrics.eventsProduced.inc({
                table: `${event.source.schema}.${event.source.table}`,
                op: event.op,
              });
            }
          },
          onConfirm: (lsn) => metrics.confirmedLsn.set({ slot: postgres.slot }, Number(parseLsn(lsn))),
          onRelation: ({ table, columns }) => log.info({ table, columns }, 'table shape'),
        },
      },
      startLsn,
    );
    this.replicator = replicator;
    this.state = 'streaming';
    this.lastError = null;
    this.options.onStreaming?.();
    log.info({ slot: postgres.slot, fromLsn: startLsn }, 'streaming');
    await replicator.run(this.coordinator.interleave(source), source);
  }

  private async confirmedLsn(): Promise<Lsn> {
    const health = this.admin ? await slotHealth(this.admin, this.options.postgres.slot) : null;
    return health?.confirmedLsn ?? '0/0';
  }

  private startTimers(admin: pg.Pool): void {
    const { postgres, metrics, log } = this.options;
    this.timers.push(
      setInterval(() => {
        emitHeartbeat(admin).then(
          () => metrics.heartbeats.inc(),
          (error: Error) => log.warn({ err: error.message }, 'heartbeat failed'),
        );
      }, postgres.heartbeatIntervalMs),
      setInterval(() => {
        slotHealth(admin, postgres.slot).then(
          (health) => {
            if (!health) return;
            metrics.replicationLagBytes.set({ slot: postgres.slot }, health.lagBytes);
            metrics.slotRetainedWalBytes.set({ slot: postgres.slot }, health.retainedWalBytes);
            metrics.slotActive.set({ slot: postgres.slot }, health.active ? 1 : 0);
            if (health.lagBytes === 0) metrics.replicationLagSeconds.set({ slot: postgres.slot }, 0);
          },
          (error: Error) => log.warn({ err: error.message }, 'slot health query failed'),
        );
      }, 2_000),
    );
  }
}

function classify(message: string): string {
  if (/kafka|broker|ECONNREFUSED.*19092|leader/i.test(message)) return 'kafka';
  if (/terminat|connection|ECONNRESET|postgres|replication/i.test(message)) return 'postgres';
  return 'other';
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
