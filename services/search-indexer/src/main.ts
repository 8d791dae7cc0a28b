import { envelopeNamed, loadConfigOrExit, topicFor } from '@cdc-cache/core';
import { createConsumer, createProducer, createTopicAdmin } from '@cdc-cache/kafka';
import {
  createConsumerMetrics,
  createRegistry,
  createSearchMetrics,
  startOpsServer,
} from '@cdc-cache/metrics';
import { convertValue, requestSnapshot } from '@cdc-cache/pg-source';
import { backoffMs, createLogger, drainOnSignals } from '@cdc-cache/runtime';
import {
  createSourcePool,
  Elasticsearch,
  GenerationError,
  PostgresRowSource,
  PostgresSnapshotRequests,
  RebuildSupervisor,
  SearchIndexer,
  SearchSink,
} from '@cdc-cache/search-sink';
import { postgresUrl } from './postgres-url.js';

// The search-indexer: Kafka change events -> Elasticsearch, every write fenced by version.
// Load config, build the pieces, start, drain on SIGTERM.
const config = loadConfigOrExit();
const log = createLogger('search-indexer', { level: config.log.level });
if (!config.search || config.search.indexes.length === 0) {
  log.fatal('no search indexes configured (search.indexes is empty or missing): nothing to do');
  log.flush();
  process.exit(2);
}
const search = config.search;
const settings = config.services.searchIndexer as typeof config.services.searchIndexer &
  // Tuning options, read once the config schema has them (defaults otherwise).
  Partial<{ bulkActions: number; flushIntervalMs: number; maxAttempts: number }>;
const registry = createRegistry('search-indexer');
const consumerMetrics = createConsumerMetrics(registry);
const searchMetrics = createSearchMetrics(registry);
const kafkaConnection = {
  brokers: config.kafka.brokers,
  clientId: `${config.kafka.clientId}-search-indexer`,
};
const postgres = config.source.postgres;
const source = createSourcePool(postgresUrl(postgres.url, postgres.password));
const es = new Elasticsearch(search.elasticsearch);

const sink = new SearchSink({
  es,
  indexes: search.indexes,
  valueMode: config.types,
  rows: new PostgresRowSource(source, (text, typeOid) => convertValue(text, typeOid, config.types)),
  bulkActions: settings.bulkActions,
  flushIntervalMs: settings.flushIntervalMs,
  maxAttempts: settings.maxAttempts,
  metrics: { ...searchMetrics, ...consumerMetrics },
  log,
});
const producer = createProducer(kafkaConnection);
const admin = createTopicAdmin(kafkaConnection);
const topics = new Map(
  sink.tables.map((table) => {
    const [schema, name] = [table.slice(0, table.indexOf('.')), table.slice(table.indexOf('.') + 1)];
    return [table, topicFor(config.kafka.topicPrefix, schema, name)] as const;
  }),
);
const indexer = new SearchIndexer({
  createConsumer: (onError) =>
    createConsumer(kafkaConnection, { groupId: settings.groupId, maxBatchSize: 1000, onError }),
  producer,
  admin,
  sink,
  envelope: envelopeNamed(config.envelope, { topicPrefix: config.kafka.topicPrefix }),
  topics,
  dlqTopic: `${config.kafka.topicPrefix}.dlq.search-indexer`,
  groupId: settings.groupId,
  partitions: config.kafka.partitions,
  metrics: consumerMetrics,
  log,
  onFatal: (error) => {
    log.fatal({ code: (error as { code?: string }).code }, error.message);
    log.flush();
    process.exit(2);
  },
});
const rebuilds = new RebuildSupervisor({
  indexes: sink.indexes,
  snapshots: new PostgresSnapshotRequests(source, postgres.slot, requestSnapshot),
  progress: indexer,
  log,
});

const ops = await startOpsServer({
  port: settings.port,
  host: settings.host,
  registry,
  readiness: () => {
    const { state, lastError } = indexer.status;
    const elasticsearch = sink.available === false ? 'unreachable' : 'ok';
    const detail: Record<string, string> = { state, elasticsearch };
    if (lastError) detail.lastError = lastError;
    return { ready: state === 'consuming' && elasticsearch === 'ok', detail };
  },
});
log.info({ port: ops.port }, 'serving /metrics, /healthz, /readyz');

drainOnSignals(log, async () => {
  await rebuilds.stop();
  await indexer.stop();
  await admin.disconnect().catch(() => undefined);
  await source.end().catch(() => undefined);
  await ops.close();
});

// Elasticsearch and Kafka may be down at start: say which in one line and retry.
for (let attempt = 0; ; attempt++) {
  try {
    await sink.start();
    await admin.connect();
    await indexer.start();
    break;
  } catch (error) {
    // An index name taken by something else: only the operator can fix that.
    if (error instanceof GenerationError) {
      log.fatal({ code: error.code }, error.message);
      log.flush();
      process.exit(2);
    }
    const delay = backoffMs(attempt);
    log.error({ retryInMs: delay }, (error as Error).message);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
rebuilds.start();
