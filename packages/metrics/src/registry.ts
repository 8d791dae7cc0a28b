import { collectDefaultMetrics, Registry } from 'prom-client';

export const METRIC_PREFIX = 'cdc_cache_';

/** A registry for one service: default process metrics (prefixed) and a `service` label. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}
