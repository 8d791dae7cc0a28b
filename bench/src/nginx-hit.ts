/**
 * NGINX hit path, measured with wrk (Debian's wrk) against the bench's own nginx (not the
 * shared one: its config is ours to write), which serves:
 *  - /static: `return 200` (what this nginx does with no backend at all: the ceiling);
 *  - /mc/?k=KEY: a bare memcached location (memcached_pass to the stack's Memcached, keepalive),
 *    the baseline the product's hit path is compared with.
 * The product's own hit path (deploy/nginx, lua/cdc_cache/read_path.lua) is measured by
 * productHitPath() in hooks.ts once a bench route exists there.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { stackAddresses } from '@cdc-cache/testkit';
import { progress, sleep } from './lib/log.js';
import { freePort, run, runOk } from './lib/proc.js';
import { CACHE_DIR } from './paths.js';

export interface WrkResult {
  target: string;
  url: string;
  connections: number;
  threads: number;
  seconds: number;
  requestsPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number };
  non2xx: number;
}

/** Sends one storage command to Memcached and waits for its reply line. */
function memcachedSet(key: string, value: string): Promise<void> {
  const [host, port] = stackAddresses.memcached.servers[0]!.split(':');
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), host, () => {
      socket.write(`set ${key} 0 0 ${Buffer.byteLength(value)}\r\n${value}\r\n`);
    });
    socket.once('data', (data) => {
      socket.end();
      if (data.toString().startsWith('STORED')) resolve();
      else reject(new Error(`memcached set ${key}: ${data.toString().trim()}`));
    });
    socket.once('error', reject);
  });
}

function parseMs(text: string): number {
  const match = /([\d.]+)(us|ms|s)/.exec(text);
  if (!match) return Number.NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

export async function runWrk(
  wrk: string,
  target: string,
  url: string,
  seconds: number,
  connections: number,
): Promise<WrkResult> {
  const threads = 2;
  const result = await runOk(
    wrk,
    ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--latency', url],
    {
      timeoutMs: (seconds + 30) * 1000,
    },
  );
  const out = result.stdout;
  const requestsPerSec = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const latency = (p: string) => parseMs(new RegExp(`\\s${p}%\\s+([\\d.]+\\w+)`).exec(out)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  return {
    target,
    url,
    connections,
    threads,
    seconds,
    requestsPerSec: Math.round(requestsPerSec),
    latencyMs: { p50: latency('50'), p90: latency('90'), p99: latency('99') },
    non2xx,
  };
}

export interface NginxBench {
  nginxVersion: string;
  results: WrkResult[];
}

export async function nginxHitPath(
  tools: { nginx: string; wrk: string },
  keyPrefix: string,
  seconds: number,
  connections: number,
): Promise<NginxBench> {
  const dir = mkdtempSync(path.join(CACHE_DIR, 'nginx-'));
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, sub));
  const port = await freePort();
  const memcached = stackAddresses.memcached.servers[0]!;
  const conf = `
worker_processes 2;
daemon on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream bench_memcached {
    server ${memcached};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location = /static { default_type text/plain; return 200 "ok"; }
    location /mc/ {
      set $memcached_key "${keyPrefix}$arg_k";
      memcached_pass bench_memcached;
      default_type application/json;
    }
  }
}
`;
  const confFile = path.join(dir, 'nginx.conf');
  writeFileSync(confFile, conf);
  const version = (await run(tools.nginx, ['-v'])).stderr.trim();
  await runOk(tools.nginx, ['-p', dir, '-c', confFile]);
  const results: WrkResult[] = [];
  try {
    const row = JSON.stringify({
      id: '42',
      email: 'ada@example.com',
      name: 'Ada Lovelace',
      bio: 'x'.repeat(900),
    });
    await memcachedSet(`${keyPrefix}hot`, row);
    await sleep(200);
    const base = `http://127.0.0.1:${port}`;
    const check = await fetch(`${base}/mc/?k=hot`);
    if (check.status !== 200) throw new Error(`bench nginx /mc/?k=hot answered ${check.status}`);
    for (const [target, url] of [
      ['nginx return 200 (no backend)', `${base}/static`],
      ['bare nginx + memcached (memcached_pass)', `${base}/mc/?k=hot`],
    ] as const) {
      const result = await runWrk(tools.wrk, target, url, seconds, connections);
      results.push(result);
      progress(
        `  wrk ${target}: ${result.requestsPerSec} req/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`,
      );
    }
  } finally {
    try {
      const pid = Number(readFileSync(path.join(dir, 'nginx.pid'), 'utf8').trim());
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch (error) {
      progress(`  could not stop the bench nginx: ${String(error)}`);
    }
  }
  return { nginxVersion: version.replace(/^nginx version: /, ''), results };
}
