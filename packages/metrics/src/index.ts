export type { ConsumerMetrics } from './consumer-metrics.js';
export { createCacheMetrics, createConsumerMetrics, createSearchMetrics } from './consumer-metrics.js';
export type { OpsServer, OpsServerOptions, Readiness } from './ops-server.js';
export { startOpsServer } from './ops-server.js';
export { createRegistry, METRIC_PREFIX } from './registry.js';
export type { WorkerMetrics } from './worker-metrics.js';
export { createWorkerMetrics } from './worker-metrics.js';
