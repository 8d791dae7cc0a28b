import { createStores } from '@cdc-cache/cache-stores';
import { loadConfigOrExit } from '@cdc-cache/core';
import { createRegistry } from '@cdc-cache/metrics';
import { createLogger, drainOnSignals } from '@cdc-cache/runtime';
import pg from 'pg';
import { ReadApi } from './read-api.js';
import { routesFrom } from './routes.js';

// The read-api: GET /v1/<table>/<key> through lease-guarded read-through; NGINX sends it
// every cache miss. Load config, build the pieces, start, drain on SIGTERM.
const config = loadConfigOrExit();
const log = createLogger('read-api', { level: config.log.level });
const registry = createRegistry('read-api');
const stores = createStores(config.stores);
const postgres = config.source.postgres;
const url = new URL(postgres.url);
if (postgres.password) url.password = postgres.password;
const pool = new pg.Pool({ connectionString: url.toString(), max: 16 });
pool.on('error', (error) => log.error(`postgres: ${error.message}`));

let routes: ReturnType<typeof routesFrom>;
try {
  routes = routesFrom(config, stores);
} catch (error) {
  log.fatal((error as Error).message);
  log.flush();
  process.exit(2);
}

const api = new ReadApi({ config, routes, stores, pool, registry, log });
const port = await api.listen(config.services.readApi.port, config.services.readApi.host);
log.info(
  { port, routes: routes.map((route) => `${route.path} -> ${route.store} ${route.template.text}`) },
  'serving the read-api, /metrics, /healthz, /readyz',
);

drainOnSignals(log, async () => {
  await api.close();
  await pool.end();
  await Promise.all(Object.values(stores).map((store) => store.close()));
});
