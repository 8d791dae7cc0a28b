import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type CacheStore, fenceVersion, type StoreName } from '@cdc-cache/cache-stores';
import { freshSlate, type Slate } from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTree } from '../../deploy/local/src/config-tree.js';
import { NGINX_SOURCE_DIR, renderNginxTree } from '../../deploy/local/src/servers/nginx.js';
import { testStores } from './cache-harness.js';

// deploy/nginx as it is (read_path.lua, the locations, the memcached upstream), rendered into a
// private NGINX on free ports with routes under this slate's key prefix and a stub read-api:
// after a TRUNCATE (generation N >= 1) NGINX serves only generation-N keys, from both stores.

let slate: Slate;
let stores: Record<StoreName, CacheStore>;
let nginx: ChildProcess | undefined;
let stub: Server | undefined;
let port = 0;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: free } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return free;
}

beforeAll(async () => {
  slate = await freshSlate('cache_nginx_gen');
  stores = testStores(slate);
  const stubPort = await freePort();
  stub = createHttpServer((request, response) => {
    response.writeHead(200, { 'x-cache': 'MISS', 'content-type': 'text/plain' });
    response.end(`read-api ${request.url}`);
  });
  await new Promise<void>((resolve) => stub!.listen(stubPort, '127.0.0.1', resolve));
  port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'cdc-nginx-gen-'));
  chmodSync(dir, 0o755);
  const vars: Record<string, string | number> = {
    STATE_DIR: dir,
    NGINX_CONF_DIR: path.join(dir, 'conf'),
    NGINX_RUN_DIR: path.join(dir, 'run'),
    NGINX_LOG_DIR: path.join(dir, 'logs'),
    NGINX_MODULES_DIR: '/usr/lib/nginx/modules',
    PORT_NGINX: port,
    PORT_REDIS: 16379,
    PORT_MEMCACHED: 21211,
    PORT_POSTGRES: 0,
    PORT_KAFKA: 0,
    PORT_ELASTICSEARCH: 0,
    PORT_PROMETHEUS: 0,
    PORT_KAFKA_CONTROLLER: 0,
    PORT_ELASTICSEARCH_TRANSPORT: 0,
  };
  const tree = renderNginxTree(readTree(NGINX_SOURCE_DIR), vars);
  tree.set(
    'nginx.conf',
    Buffer.from(
      tree.get('nginx.conf')!.toString().replace('server 127.0.0.1:9484', `server 127.0.0.1:${stubPort}`),
    ),
  );
  tree.set(
    'lua/cdc_cache/routes.lua',
    Buffer.from(`return {
  { path = "/v1/users/{id}", table = "public.users", key = "user:{id}", store = "redis", prefix = "${slate.keyPrefix}" },
  { path = "/v1/products/{sku}", table = "public.products", key = "product:{sku}", store = "memcached", prefix = "${slate.keyPrefix}" },
}
`),
  );
  for (const [rel, content] of tree) {
    const file = path.join(dir, 'conf', rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  for (const sub of ['run', 'logs']) mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o777 });
  nginx = spawn(
    '/usr/sbin/nginx',
    ['-p', `${dir}/run/`, '-c', path.join(dir, 'conf', 'nginx.conf'), '-e', 'stderr', '-g', 'daemon off;'],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 30_000;
  while (
    !(await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (Date.now() > deadline) throw new Error('private nginx did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}, 90_000);

afterAll(async () => {
  nginx?.kill('SIGTERM');
  await new Promise<void>((resolve) => (stub ? stub.close(() => resolve()) : resolve()));
  await Promise.all(Object.values(stores ?? {}).map((store) => store.close()));
  await slate?.dispose();
});

const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);
const v = (n: number) => fenceVersion(`0/${(0x100 + n).toString(16)}`, `0/${(0x100 + n).toString(16)}`);

describe('NGINX read path with table generations', () => {
  it.each([
    ['redis', '/v1/users/a%20b', 'public.users', 'user:a%20b'],
    ['memcached', '/v1/products/%C3%A9t%C3%A9', 'public.products', 'product:%C3%A9t%C3%A9'],
  ] as const)(
    '%s: serves the key of the current generation only (percent-encoded values as the key templates encode them)',
    async (name, url, table, text) => {
      const store = stores[name];
      const route = `${slate.keyPrefix}${text}`;
      await store.refresh({ key: route, route, version: v(1), value: '"generation 0"' });
      let response = await get(url);
      expect(response.headers.get('x-cache')).toBe('HIT');
      expect(await response.text()).toBe('"generation 0"');

      await store.truncate(table, v(2));
      await store.truncate(table, v(3));
      // Generation 2 now: the old value is unreachable, a miss goes to the read-api.
      response = await get(url);
      expect(response.headers.get('x-cache')).toBe('MISS');
      expect(await response.text()).toBe(`read-api ${url}`);

      const key = `${slate.keyPrefix}g2@${text}`;
      await store.refresh({ key, route, version: v(4), value: '"generation 2"' });
      response = await get(url);
      expect(response.headers.get('x-cache')).toBe('HIT');
      expect(await response.text()).toBe('"generation 2"');
    },
  );

  it('anything that is not a configured route is 404', async () => {
    expect((await get('/v1/orders/1')).status).toBe(404);
    expect((await get('/v1/users/1/x')).status).toBe(404);
    expect((await get('/other')).status).toBe(404);
  });
});
