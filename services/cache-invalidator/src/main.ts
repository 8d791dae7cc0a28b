import { loadConfigOrExit } from '@cdc-cache/core';
import {
  createCacheMetrics,
  createConsumerMetrics,
  createRegistry,
  startOpsServer,
} from '@cdc-cache/metrics';
import { createLogger, drainOnSignals } from '@cdc-cache/runtime';
import { CacheInvalidatorService } from './service.js';

// The cache-invalidator: Kafka change events -> fenced refresh/evict in Redis and Memcached,
// offsets committed only once each operation is acknowledged or handed to the retry queue.
// Load config, build the pieces, start, drain on SIGTERM.
const config = loadConfigOrExit();
const log = createLogger('cache-invalidator', { level: config.log.level });
const registry = createRegistry('cache-invalidator');
const metrics = { consumer: createConsumerMetrics(registry), cache: createCacheMetrics(registry) };

let service: CacheInvalidatorService;
try {
  service = new CacheInvalidatorService(config, log, metrics);
} catch (error) {
  log.fatal((error as Error).message);
  log.flush();
  process.exit(2);
}

const ops = await startOpsServer({
  port: config.services.cacheInvalidator.port,
  host: config.services.cacheInvalidator.host,
  registry,
  readiness: () => service.readiness(),
});
log.info({ port: ops.port }, 'serving /metrics, /healthz, /readyz');

drainOnSignals(log, async () => {
  await service.stop();
  await ops.close();
});

await service.start();
