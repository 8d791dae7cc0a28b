import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTree } from '../config-tree.js';
import { layout } from '../paths.js';
import { NGINX_SOURCE_DIR, nginxTemplateVars, renderNginxTree } from './nginx.js';

describe('deploy/nginx rendering', () => {
  const l = layout('/state');
  const rendered = renderNginxTree(readTree(NGINX_SOURCE_DIR), nginxTemplateVars(l));
  const conf = rendered.get('nginx.conf')?.toString() ?? '';

  it('fills every placeholder of the real template', () => {
    expect(conf).not.toMatch(/\{\{/);
    expect(conf).toContain('listen 127.0.0.1:18080;');
  });

  it('keeps every path inside the state folder', () => {
    const paths = [...conf.matchAll(/^\s*(?:pid|access_log|\w+_temp_path)\s+(\S+?);?(?:\s|$)/gm)]
      .map((m) => m[1]!)
      .filter((p) => p !== 'off');
    expect(paths.length).toBeGreaterThanOrEqual(6);
    for (const p of paths) expect(p.startsWith('/state/')).toBe(true);
    expect(conf).toContain(`lua_package_path "${path.join(l.conf, 'nginx', 'lua')}/?.lua;`);
  });

  it('loads the lua module and keeps the lua files as they are', () => {
    expect(conf).toMatch(/load_module \/usr\/lib\/nginx\/modules\/ngx_http_lua_module\.so;/);
    expect(rendered.get('lua/resty/redis.lua')?.toString()).toContain('require("nginx.redis")');
  });

  it('offers a placeholder for every server port', () => {
    const vars = nginxTemplateVars(l);
    expect(vars.PORT_REDIS).toBe(16379);
    expect(vars.PORT_MEMCACHED).toBe(21211);
    expect(vars.PORT_POSTGRES).toBe(15432);
  });
});
