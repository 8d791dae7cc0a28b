import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The cdc-worker's metrics: replication lag, slot health, events produced, snapshot progress. */
export function createWorkerMetrics(registry: Registry) {
  return {
    active: new Gauge({
      name: 'cdc_cache_worker_active',
      help: '1 while this worker holds the slot lock and streams; 0 while it waits as a standby.',
      registers: [registry],
    }),
    replicationLagBytes: new Gauge({
      name: 'cdc_cache_replication_lag_bytes',
      help: 'Bytes of WAL between the server current position and the LSN this worker confirmed.',
      labelNames: ['slot'],
      registers: [registry],
    }),
    replicationLagSeconds: new Gauge({
      name: 'cdc_cache_replication_lag_seconds',
      help: 'Seconds between now and the commit time of the last change Kafka acknowledged (0 when idle and caught up).',
      labelNames: ['slot'],
      registers: [registry],
    }),
    slotRetainedWalBytes: new Gauge({
      name: 'cdc_cache_slot_retained_wal_bytes',
      help: 'Bytes of WAL the replication slot keeps on disk (current WAL position minus restart_lsn).',
      labelNames: ['slot'],
      registers: [registry],
    }),
    slotActive: new Gauge({
      name: 'cdc_cache_slot_active',
      help: '1 while a walsender streams from the slot, 0 while nobody reads it (WAL piles up).',
      labelNames: ['slot'],
      registers: [registry],
    }),
    confirmedLsn: new Gauge({
      name: 'cdc_cache_confirmed_lsn',
      help: 'The flush LSN last confirmed to PostgreSQL, as a number.',
      labelNames: ['slot'],
      registers: [registry],
    }),
    eventsProduced: new Counter({
      name: 'cdc_cache_events_produced_total',
      help: 'Change events acknowledged by Kafka, by table and op.',
      labelNames: ['table', 'op'],
      registers: [registry],
    }),
    transactions: new Counter({
      name: 'cdc_cache_transactions_total',
      help: 'Transactions whose every event Kafka acknowledged.',
      registers: [registry],
    }),
    produceLatency: new Histogram({
      name: 'cdc_cache_commit_to_kafka_seconds',
      help: 'Seconds from a transaction commit in PostgreSQL to Kafka acknowledging its events.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    restarts: new Counter({
      name: 'cdc_cache_stream_restarts_total',
      help: 'Times the stream was restarted from the confirmed LSN after an error, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    heartbeats: new Counter({
      name: 'cdc_cache_heartbeats_total',
      help: 'Heartbeat messages written so an idle slot still advances.',
      registers: [registry],
    }),
    snapshotRows: new Counter({
      name: 'cdc_cache_snapshot_rows_total',
      help: 'Rows read by snapshots (op r), by table.',
      labelNames: ['table'],
      registers: [registry],
    }),
    snapshotRowsEstimated: new Gauge({
      name: 'cdc_cache_snapshot_rows_estimated',
      help: 'Estimated rows of the table being snapshotted (pg_class.reltuples).',
      labelNames: ['table'],
      registers: [registry],
    }),
    snapshotRunning: new Gauge({
      name: 'cdc_cache_snapshot_running',
      help: '1 while a snapshot of the table runs.',
      labelNames: ['table'],
      registers: [registry],
    }),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
