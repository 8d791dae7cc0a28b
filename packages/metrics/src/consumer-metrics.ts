import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Metrics shared by every Kafka consumer service (cache-invalidator, search-indexer).
 * `sink` names where the events go: redis, memcached, elasticsearch.
 */
export function createConsumerMetrics(registry: Registry) {
  return {
    consumerLag: new Gauge({
      name: 'cdc_cache_consumer_lag_messages',
      help: 'Messages between the end of a partition and the offset the consumer group committed.',
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
    }),
    eventsConsumed: new Counter({
      name: 'cdc_cache_events_consumed_total',
      help: 'Change events read from Kafka, by consumer group, table and op.',
      labelNames: ['group', 'table', 'op'],
      registers: [registry],
    }),
    eventsSkipped: new Counter({
      name: 'cdc_cache_events_skipped_total',
      help: 'Change events not applied, by reason (no_rule, duplicate, ...).',
      labelNames: ['group', 'reason'],
      registers: [registry],
    }),
    endToEnd: new Histogram({
      name: 'cdc_cache_end_to_end_seconds',
      help: 'Seconds from the commit in PostgreSQL to the sink acknowledging the operation (cache op or indexed document).',
      labelNames: ['sink'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    retries: new Counter({
      name: 'cdc_cache_retries_total',
      help: 'Operations scheduled for another attempt after a failure, by sink.',
      labelNames: ['sink'],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'cdc_cache_dead_letters_total',
      help: 'Events given up on after the configured attempts (or unprocessable), by sink and reason.',
      labelNames: ['sink', 'reason'],
      registers: [registry],
    }),
    sinkUp: new Gauge({
      name: 'cdc_cache_sink_up',
      help: '1 while the sink (store or index) answers, 0 while it does not.',
      labelNames: ['sink'],
      registers: [registry],
    }),
  };
}

export type ConsumerMetrics = ReturnType<typeof createConsumerMetrics>;

/** The cache-invalidator's own metrics. */
export function createCacheMetrics(registry: Registry) {
  return {
    cacheOps: new Counter({
      name: 'cdc_cache_cache_ops_total',
      help: 'Cache operations, by store, action (refresh, evict, truncate, lease) and result (ok, stale, error).',
      labelNames: ['store', 'action', 'result'],
      registers: [registry],
    }),
  };
}

/** The search-indexer's own metrics. */
export function createSearchMetrics(registry: Registry) {
  return {
    documents: new Counter({
      name: 'cdc_cache_search_documents_total',
      help: 'Documents by index and result: indexed, deleted, skipped_stale (an older version), failed.',
      labelNames: ['index', 'result'],
      registers: [registry],
    }),
    bulkSeconds: new Histogram({
      name: 'cdc_cache_search_bulk_seconds',
      help: 'Seconds per Elasticsearch bulk request.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}
