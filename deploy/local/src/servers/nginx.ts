import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Tree } from '../config-tree.js';
import { mapTree, readTree, replaceDir, treesEqual, writeTree } from '../config-tree.js';
import { errorMessage, StackError } from '../errors.js';
import type { Layout } from '../paths.js';
import { REPO_ROOT } from '../paths.js';
import { ELASTICSEARCH_TRANSPORT_PORT, KAFKA_CONTROLLER_PORT, PORTS, SERVER_NAMES } from '../ports.js';
import { httpRequest, probeFailure } from '../probes.js';
import { renderTemplate } from '../template.js';
import type { ServerContext, ServerDef } from './types.js';

export const NGINX_SOURCE_DIR = path.join(REPO_ROOT, 'deploy', 'nginx');
const NGINX = '/usr/sbin/nginx';
/** Where Debian's dynamic modules live (libnginx-mod-http-lua, libnginx-mod-http-ndk). */
const DEBIAN_MODULES_DIR = '/usr/lib/nginx/modules';

/** The values of the {{NAME}} placeholders in deploy/nginx/*.conf. */
export function nginxTemplateVars(layout: Layout): Record<string, string | number> {
  const vars: Record<string, string | number> = {
    STATE_DIR: layout.root,
    NGINX_CONF_DIR: path.join(layout.conf, 'nginx'),
    NGINX_RUN_DIR: path.join(layout.run, 'nginx'),
    NGINX_LOG_DIR: path.join(layout.logs, 'nginx'),
    NGINX_MODULES_DIR: DEBIAN_MODULES_DIR,
    PORT_KAFKA_CONTROLLER: KAFKA_CONTROLLER_PORT,
    PORT_ELASTICSEARCH_TRANSPORT: ELASTICSEARCH_TRANSPORT_PORT,
  };
  for (const name of SERVER_NAMES) vars[`PORT_${name.toUpperCase()}`] = PORTS[name];
  return vars;
}

/** deploy/nginx with every *.conf rendered; other files (lua modules) as they are. */
export function renderNginxTree(source: Tree, vars: Record<string, string | number>): Tree {
  return mapTree(source, (rel, content) => {
    if (!rel.endsWith('.conf')) return content;
    try {
      return Buffer.from(renderTemplate(content.toString('utf8'), vars));
    } catch (error) {
      throw new StackError(`nginx: deploy/nginx/${rel}: ${errorMessage(error)}`, 'nginx');
    }
  });
}

function nginxArgs(ctx: ServerContext, confFile: string): string[] {
  // -e: the error log before the configuration is read (the default, /var/log/nginx, is not ours).
  return [
    '-p',
    `${path.join(ctx.layout.run, 'nginx')}/`,
    '-c',
    confFile,
    '-e',
    'stderr',
    '-g',
    'daemon off;',
  ];
}

/**
 * Render deploy/nginx into the state folder if the result differs from what is there; a changed
 * configuration is checked with `nginx -t` before it replaces the current one. True if it changed.
 */
function syncNginxConfig(ctx: ServerContext): boolean {
  const dest = path.join(ctx.layout.conf, 'nginx');
  const rendered = renderNginxTree(readTree(NGINX_SOURCE_DIR), nginxTemplateVars(ctx.layout));
  if (!rendered.has('nginx.conf'))
    throw new StackError(`nginx: ${NGINX_SOURCE_DIR}/nginx.conf is missing`, 'nginx');
  if (treesEqual(rendered, readTree(dest))) return false;
  ctx.dir('run', 'nginx');
  const staged = `${dest}.next`;
  writeTree(rendered, staged, ctx.runAs);
  const check = spawnSync(NGINX, ['-t', '-q', ...nginxArgs(ctx, path.join(staged, 'nginx.conf'))], {
    encoding: 'utf8',
    env: ctx.env(),
    cwd: ctx.layout.root,
    timeout: 20_000,
    ...(ctx.runAs ? { uid: ctx.runAs.uid, gid: ctx.runAs.gid } : {}),
  });
  if (check.status !== 0) {
    const output = `${check.stderr ?? ''}${check.stdout ?? ''}`.trim() || String(check.error ?? 'no output');
    throw new StackError(
      `nginx: the configuration rendered from deploy/nginx does not pass \`nginx -t\`; fix deploy/nginx and run up again:\n${output}`,
      'nginx',
    );
  }
  replaceDir(staged, dest);
  return true;
}

export const nginx: ServerDef = {
  name: 'nginx',
  ports: [PORTS.nginx],
  startTimeoutMs: 30_000,
  debPackages: ['nginx', 'libnginx-mod-http-lua', 'lua-nginx-redis'],

  async prepare(ctx) {
    ctx.dir('run', 'nginx');
    ctx.dir('logs', 'nginx');
    syncNginxConfig(ctx);
  },

  command(ctx) {
    return {
      command: NGINX,
      args: nginxArgs(ctx, path.join(ctx.layout.conf, 'nginx', 'nginx.conf')),
      env: ctx.env(),
      cwd: ctx.dir('run', 'nginx'),
    };
  },

  async probe() {
    try {
      const reply = await httpRequest(PORTS.nginx, '/healthz');
      return reply.status === 200 && reply.body.trim() === 'ok'
        ? { healthy: true, detail: 'GET /healthz -> 200 ok' }
        : { healthy: false, detail: `GET /healthz -> HTTP ${reply.status}` };
    } catch (error) {
      return { healthy: false, detail: probeFailure(error) };
    }
  },

  async version() {
    const result = spawnSync(NGINX, ['-v'], { encoding: 'utf8', timeout: 5000 });
    return /nginx\/(\S+)/.exec(`${result.stderr ?? ''}${result.stdout ?? ''}`)?.[1] ?? null;
  },

  async syncConfig(ctx, pid) {
    if (!syncNginxConfig(ctx)) return null;
    // SIGHUP: the master re-reads its configuration and replaces its workers gracefully.
    process.kill(pid, 'SIGHUP');
    return 'configuration changed in deploy/nginx: checked with nginx -t and reloaded';
  },
};
