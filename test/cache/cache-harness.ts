import {
  type CacheStore,
  type KeyRef,
  MemcachedStore,
  RedisStore,
  type StoreName,
} from '@cdc-cache/cache-stores';
import { compileKeyTemplate, type RowImage } from '@cdc-cache/core';
import {
  type ServiceProcess,
  type Slate,
  stackAddresses,
  startService,
  writeConfig,
} from '@cdc-cache/testkit';
import { workerConfig } from '../cdc-worker/worker-harness.js';

export interface KeyRuleInput {
  key: string;
  store: StoreName;
  action?: 'refresh' | 'evict';
  ttl?: number;
}

/**
 * One config for the cdc-worker, the cache-invalidator and the read-api of a slate: its database,
 * topics, key prefix, consumer group; ops ports picked by the OS.
 */
export function cacheConfig(
  slate: Slate,
  tables: string[],
  rules: { table: string; keys: KeyRuleInput[] }[],
  options: {
    redisUrl?: string;
    memcachedServers?: string[];
    keyPrefix?: string;
    invalidator?: Record<string, unknown>;
    readApi?: Record<string, unknown>;
    snapshot?: 'initial' | 'never';
  } = {},
) {
  const keyPrefix = options.keyPrefix ?? slate.keyPrefix;
  return workerConfig(slate, tables, {
    postgres: { snapshot: { mode: options.snapshot ?? 'never' } },
    stores: {
      redis: { url: options.redisUrl ?? stackAddresses.redis.url, keyPrefix },
      memcached: { servers: options.memcachedServers ?? [...stackAddresses.memcached.servers], keyPrefix },
    },
    rules,
    services: {
      cdcWorker: { port: 0 },
      cacheInvalidator: {
        port: 0,
        groupId: `${slate.id}-invalidator`,
        retry: { backoffMs: 200 },
        ...options.invalidator,
      },
      readApi: { port: 0, ...options.readApi },
    },
  });
}

export async function startInvalidator(
  config: object,
  env: Record<string, string> = {},
): Promise<ServiceProcess> {
  const path = await writeConfig(config);
  const service = startService('cache-invalidator', path, env);
  await service.waitForLog((line) => line.msg === 'consuming', 60_000);
  return service;
}

/** The port of a service's ops (or API) server, from its log. */
export async function servicePort(service: ServiceProcess): Promise<number> {
  const line = await service.waitForLog(
    (entry) => typeof entry.port === 'number' && /serving/.test(String(entry.msg)),
  );
  return line.port as number;
}

export async function stopService(service: ServiceProcess | undefined): Promise<void> {
  if (!service || service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.kill('SIGTERM');
  const timer = setTimeout(() => service.kill('SIGKILL'), 15_000);
  await service.exited;
  clearTimeout(timer);
}

/** Test-side clients of the slate's stores (same prefix as the services). */
export function testStores(slate: Slate, keyPrefix = slate.keyPrefix): Record<StoreName, CacheStore> {
  return {
    redis: new RedisStore({ url: stackAddresses.redis.url, keyPrefix }),
    memcached: new MemcachedStore({ servers: stackAddresses.memcached.servers, keyPrefix }),
  };
}

/** A row's key in the table's current generation, and its route (the key at generation 0). */
export async function currentKey(
  store: CacheStore,
  table: string,
  template: string,
  row: RowImage,
): Promise<KeyRef> {
  const compiled = compileKeyTemplate(template, {
    store: store.name,
    keyPrefix: store.keyPrefix,
    maxKeyBytes: store.maxKeyBytes,
  });
  const route = compiled.render(row);
  if (!route.ok) throw new Error(route.reason);
  const { generation } = await store.generation(table, route.key);
  const key = compiled.render(row, { generation });
  if (!key.ok) throw new Error(key.reason);
  return { key: key.key, route: route.key };
}

/** The document a key holds now, in the table's current generation (what a reader would get). */
export async function cached(
  store: CacheStore,
  table: string,
  template: string,
  row: RowImage,
): Promise<string | null> {
  return store.get(await currentKey(store, table, template, row));
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what}: not reached within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
}

export async function metricValue(
  port: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([label, value]) => line.includes(`${label}="${value}"`))) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

/** The row document as the invalidator writes it and the read-api serves it. */
export function rowDocument(row: Record<string, string | null>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(row).sort(([a], [b]) => (a < b ? -1 : 1))));
}
