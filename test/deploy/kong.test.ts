import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEPLOY, REPO } from './deploy-helpers.js';

interface KongConfig {
  _format_version: string;
  upstreams: {
    name: string;
    targets: { target: string }[];
    healthchecks: { active: { http_path: string } };
  }[];
  services: {
    name: string;
    host: string;
    port: number;
    protocol: string;
    routes: { name: string; paths: string[]; methods: string[]; strip_path: boolean }[];
    plugins?: { name: string }[];
  }[];
}

const kong = parse(readFileSync(join(DEPLOY, 'kong', 'kong.yml'), 'utf8')) as KongConfig;

describe('the Kong declarative config deploy/kong/kong.yml', () => {
  const service = kong.services.find((s) => s.name === 'read-api')!;
  const upstream = kong.upstreams.find((u) => u.name === service?.host);

  it('is a Kong 3 declarative config with a read-api service behind a health-checked upstream', () => {
    expect(kong._format_version).toBe('3.0');
    expect(service).toMatchObject({ protocol: 'http', port: 9484 });
    expect(upstream?.targets).toEqual([{ target: 'read-api:9484', weight: 100 }]);
    expect(upstream?.healthchecks.active.http_path).toBe('/readyz');
  });

  it('routes GET and HEAD of /v1/<table>/<pk> to the read-api, path unchanged', () => {
    expect(service.routes).toHaveLength(1);
    const route = service.routes[0]!;
    expect(route).toMatchObject({ methods: ['GET', 'HEAD'], strip_path: false });
    expect(route.paths).toHaveLength(1);
    // Kong 3 marks a regex path with `~`; its PCRE syntax here is also valid JavaScript.
    expect(route.paths[0]).toMatch(/^~\//);
    const pattern = new RegExp(`^${route.paths[0]!.slice(1)}`);
    for (const path of ['/v1/users/42', '/v1/users/a%40b.c', '/v1/orders/7/1001']) {
      expect(path, path).toMatch(pattern);
    }
    expect(pattern.exec('/v1/orders/7/1001')?.groups).toEqual({ table: 'orders', key: '7/1001' });
    for (const path of ['/v1/users', '/v1/users/', '/metrics', '/v2/users/1', '/v1//1']) {
      expect(path, path).not.toMatch(pattern);
    }
  });

  it('leaves caching to the read-api (no proxy-cache), as docs/operations.md explains', () => {
    expect(service.plugins?.map((p) => p.name) ?? []).not.toContain('proxy-cache');
    const doc = readFileSync(join(REPO, 'docs', 'operations.md'), 'utf8');
    expect(doc).toMatch(/## Kong instead of NGINX/);
    expect(doc).toContain('deploy/kong/kong.yml');
  });
});
