import {
  compileKeyTemplate,
  createEventEncoder,
  envelopeNamed,
  loadConfigOrExit,
  topicFor,
} from '@cdc-cache/core';
import { createProducer, createTopicAdmin } from '@cdc-cache/kafka';
import { createRegistry, createWorkerMetrics, startOpsServer } from '@cdc-cache/metrics';
import { SourceError } from '@cdc-cache/pg-source';
import { CdcWorker } from '@cdc-cache/replicator';
import { backoffMs, createLogger, drainOnSignals } from '@cdc-cache/runtime';
import { postgresUrl } from './postgres-url.js';

// The cdc-worker: PostgreSQL logical replication -> Kafka, confirming an LSN only once Kafka
// acknowledged everything before it. Load config, build the pieces, start, drain on SIGTERM.
const config = loadConfigOrExit();
const log = createLogger('cdc-worker', { level: config.log.level });
const registry = createRegistry('cdc-worker');
const metrics = createWorkerMetrics(registry);
const postgres = config.source.postgres;
const kafkaConnection = { brokers: config.kafka.brokers, clientId: config.kafka.clientId };
const producer = createProducer(kafkaConnection);
const admin = createTopicAdmin(kafkaConnection);

// Columns whose old value the cache rules need on update and delete (REPLICA IDENTITY check).
const neededOldColumns: Record<string, string[]> = {};
for (const rule of config.rules) {
  neededOldColumns[rule.table] = [
    ...new Set(rule.keys.flatMap((key) => compileKeyTemplate(key.key).columns)),
  ];
}

const worker = new CdcWorker({
  postgres: {
    url: postgresUrl(postgres.url, postgres.password),
    slot: postgres.slot,
    publication: postgres.publication,
    tables: postgres.tables,
    keyColumns: postgres.keyColumns,
    neededOldColumns,
    heartbeatIntervalMs: postgres.heartbeatIntervalMs,
    valueMode: config.types,
    snapshot: postgres.snapshot.mode,
    snapshotChunkSize: postgres.snapshot.batchSize,
  },
  kafka: { topicPrefix: config.kafka.topicPrefix, partitions: config.kafka.partitions },
  producer,
  admin,
  encoder: createEventEncoder({
    envelope: envelopeNamed(config.envelope, { topicPrefix: config.kafka.topicPrefix }),
    topicPrefix: config.kafka.topicPrefix,
  }),
  topicFor: (table) => topicFor(config.kafka.topicPrefix, table.schema, table.table),
  log,
  metrics,
});

const ops = await startOpsServer({
  port: config.services.cdcWorker.port,
  host: config.services.cdcWorker.host,
  registry,
  readiness: () => {
    const { state, lastError, confirmedLsn } = worker.status;
    const detail: Record<string, string> = { state, confirmedLsn: confirmedLsn ?? '-' };
    if (lastError) detail.lastError = lastError;
    return { ready: state === 'streaming', detail };
  },
});
log.info({ port: ops.port }, 'serving /metrics, /healthz, /readyz');

drainOnSignals(log, async () => {
  await worker.stop();
  await producer.disconnect().catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
  await ops.close();
});

// Kafka may be down at start: say so in one line and retry; nothing is read before it is up.
for (let attempt = 0; ; attempt++) {
  try {
    await producer.connect();
    await admin.connect();
    break;
  } catch (error) {
    const delay = backoffMs(attempt);
    log.error({ retryInMs: delay }, (error as Error).message);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

try {
  await worker.run();
} catch (error) {
  // A problem only the operator can fix (missing table, replica identity, permissions): one line, exit 2.
  if (error instanceof SourceError) {
    log.fatal({ code: error.code }, error.message);
  } else {
    log.fatal({ err: error }, (error as Error).message);
  }
  log.flush();
  await worker.stop().catch(() => undefined);
  process.exit(error instanceof SourceError ? 2 : 1);
}
