import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MemcachedStore, MetaConnection } from '@cdc-cache/cache-stores';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Several Memcached servers: the store spreads keys with NGINX's own consistent hash, so NGINX's
// memcached hit path (`hash ... consistent`) finds every key where the invalidator wrote it.
// Three private memcached processes and a private NGINX, on free ports, for this file only.

const children: ChildProcess[] = [];
let servers: string[] = [];
let nginxPort = 0;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  const user = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    children.push(
      spawn('/usr/bin/memcached', ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '16', ...user], {
        stdio: 'ignore',
      }),
    );
    servers.push(`127.0.0.1:${port}`);
  }
  for (const server of servers) {
    const connection = new MetaConnection({ host: '127.0.0.1', port: Number(server.split(':')[1]) });
    await waitUntil(async () => (await connection.request('mn')).status === 'MN', server);
    connection.close();
  }
  nginxPort = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'cdc-nginx-ring-'));
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `pid ${dir}/nginx.pid;
error_log stderr error;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream ring {
    hash $arg_route consistent;
${servers.map((server) => `    server ${server} max_fails=0;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${nginxPort};
    location /get { set $memcached_key $arg_key; memcached_pass ring; }
  }
}
`,
  );
  children.push(
    spawn(
      '/usr/sbin/nginx',
      ['-p', `${dir}/`, '-c', `${dir}/nginx.conf`, '-e', 'stderr', '-g', 'daemon off;'],
      { stdio: 'ignore' },
    ),
  );
  await waitUntil(
    async () => (await fetch(`http://127.0.0.1:${nginxPort}/get?key=x&route=x`)).status === 404,
    'nginx',
  );
}, 90_000);

afterAll(() => {
  for (const child of children) child.kill('SIGTERM');
  servers = [];
});

describe('several Memcached servers', () => {
  it('spreads keys over every server, and NGINX finds each key on the server the store wrote it to', async () => {
    const store = new MemcachedStore({ servers, keyPrefix: 'ring:' });
    try {
      const keys = Array.from({ length: 300 }, (_, i) => `ring:user:${i}`);
      await Promise.all(
        keys.map((key, i) =>
          store.refresh({ key, route: key, version: `${'0'.repeat(31)}1`, value: `{"n":${i}}` }),
        ),
      );
      // Each server holds part of them.
      for (const server of servers) {
        const connection = new MetaConnection({ host: '127.0.0.1', port: Number(server.split(':')[1]) });
        const held = await Promise.all(keys.map((key) => connection.request(`mg ${key} v`)));
        connection.close();
        const count = held.filter((reply) => reply.status === 'VA').length;
        expect(count, server).toBeGreaterThan(30);
      }
      // NGINX's `hash $route consistent` picks the same server for every key.
      const answers: string[] = [];
      for (const key of keys) {
        const response = await fetch(`http://127.0.0.1:${nginxPort}/get?key=${key}&route=${key}`);
        answers.push(response.status === 200 ? await response.text() : `${response.status}`);
      }
      expect(answers).toEqual(keys.map((_, i) => `{"n":${i}}`));
    } finally {
      await store.close();
    }
  });

  it('a later generation of a key lives on the server of its route (the key at generation 0)', async () => {
    const store = new MemcachedStore({ servers, keyPrefix: 'ring:' });
    try {
      for (let i = 0; i < 50; i++) {
        const route = `ring:gen:${i}`;
        const key = `ring:g7@gen:${i}`;
        await store.refresh({ key, route, version: `${'0'.repeat(31)}1`, value: `"g${i}"` });
        const response = await fetch(`http://127.0.0.1:${nginxPort}/get?key=${key}&route=${route}`);
        expect(await response.text()).toBe(`"g${i}"`);
      }
    } finally {
      await store.close();
    }
  });
});
