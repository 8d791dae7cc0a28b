import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { readTree, replaceDir, treesEqual, writeTree } from '../config-tree.js';
import { StackError } from '../errors.js';
import { REPO_ROOT } from '../paths.js';
import { HOST, PORTS } from '../ports.js';
import { httpRequest, probeFailure } from '../probes.js';
import type { ServerContext, ServerDef } from './types.js';

export const PROMETHEUS_SOURCE_DIR = path.join(REPO_ROOT, 'deploy', 'prometheus');
const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

/** Debian ships the standard console libraries as examples; the first folder that has them wins. */
const DEBIAN_CONSOLE_LIBRARIES = [
  '/usr/share/prometheus/console_libraries',
  '/etc/prometheus/console_libraries',
  '/usr/share/doc/prometheus/examples/console_libraries',
];

function hasLibraries(dir: string): boolean {
  try {
    return readdirSync(dir).some((f) => f.endsWith('.lib'));
  } catch {
    return false;
  }
}

export function consoleLibrariesDir(confDir: string): string | null {
  const own = path.join(confDir, 'console_libraries');
  for (const dir of [own, ...DEBIAN_CONSOLE_LIBRARIES]) if (hasLibraries(dir)) return dir;
  return null;
}

/**
 * Copy deploy/prometheus into the state folder (so the unprivileged user can read it wherever the
 * repository is, and rule_files keep their relative paths); a changed copy is checked with
 * `promtool check config` before it replaces the current one. True if it changed.
 */
function syncPrometheusConfig(ctx: ServerContext): boolean {
  const dest = path.join(ctx.layout.conf, 'prometheus');
  const source = readTree(PROMETHEUS_SOURCE_DIR);
  if (!source.has('prometheus.yml')) {
    throw new StackError(`prometheus: ${PROMETHEUS_SOURCE_DIR}/prometheus.yml is missing`, 'prometheus');
  }
  if (treesEqual(source, readTree(dest))) return false;
  const staged = `${dest}.next`;
  writeTree(source, staged, ctx.runAs);
  const check = spawnSync(PROMTOOL, ['check', 'config', path.join(staged, 'prometheus.yml')], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (check.status !== 0) {
    const output = `${check.stdout ?? ''}${check.stderr ?? ''}`.trim() || String(check.error ?? 'no output');
    throw new StackError(
      `prometheus: deploy/prometheus/prometheus.yml does not pass \`promtool check config\`; fix it and run up again:\n${output}`,
      'prometheus',
    );
  }
  replaceDir(staged, dest);
  return true;
}

export const prometheus: ServerDef = {
  name: 'prometheus',
  ports: [PORTS.prometheus],
  startTimeoutMs: 30_000,
  debPackages: ['prometheus'],

  async prepare(ctx) {
    ctx.dir('data', 'prometheus');
    syncPrometheusConfig(ctx);
  },

  command(ctx) {
    const confDir = path.join(ctx.layout.conf, 'prometheus');
    const libraries = consoleLibrariesDir(confDir);
    return {
      command: PROMETHEUS,
      args: [
        `--config.file=${path.join(confDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(ctx.layout.data, 'prometheus')}`,
        '--storage.tsdb.retention.time=2d',
        `--web.listen-address=${HOST}:${PORTS.prometheus}`,
        '--web.enable-lifecycle',
        `--web.console.templates=${path.join(confDir, 'consoles')}`,
        ...(libraries ? [`--web.console.libraries=${libraries}`] : []),
      ],
      env: ctx.env(),
      cwd: ctx.dir('data', 'prometheus'),
    };
  },

  async probe() {
    try {
      const reply = await httpRequest(PORTS.prometheus, '/-/ready');
      return reply.status === 200
        ? { healthy: true, detail: 'GET /-/ready -> 200' }
        : { healthy: false, detail: `GET /-/ready -> HTTP ${reply.status}` };
    } catch (error) {
      return { healthy: false, detail: probeFailure(error) };
    }
  },

  async version() {
    try {
      const reply = await httpRequest(PORTS.prometheus, '/api/v1/status/buildinfo');
      return (JSON.parse(reply.body) as { data?: { version?: string } }).data?.version ?? null;
    } catch {
      return null;
    }
  },

  async syncConfig(ctx) {
    if (!syncPrometheusConfig(ctx)) return null;
    const reply = await httpRequest(PORTS.prometheus, '/-/reload', 'POST', 10_000);
    if (reply.status !== 200) {
      throw new StackError(
        `prometheus: reload after a configuration change failed (HTTP ${reply.status}): ${reply.body.trim()}`,
        'prometheus',
      );
    }
    return 'configuration changed in deploy/prometheus: checked with promtool and reloaded';
  },
};

/** Absolute path of promtool (from Debian's prometheus package, installed by `up`). */
export function promtoolPath(): string {
  return PROMTOOL;
}
