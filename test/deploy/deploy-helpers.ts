import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PORTS, promtoolPath } from '@cdc-cache/local-stack';
import { stringify } from 'yaml';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEPLOY = join(REPO, 'deploy');
export const PROMETHEUS_DIR = join(DEPLOY, 'prometheus');
export const PROMETHEUS_URL = `http://127.0.0.1:${PORTS.prometheus}`;

/** The four services: compose service / Prometheus job / Helm component name, and /metrics port. */
export const SERVICES = [
  { name: 'cdc-worker', configKey: 'cdcWorker', port: 9481 },
  { name: 'cache-invalidator', configKey: 'cacheInvalidator', port: 9482 },
  { name: 'search-indexer', configKey: 'searchIndexer', port: 9483 },
  { name: 'read-api', configKey: 'readApi', port: 9484 },
] as const;

/**
 * The panels of the pipeline overview: both the console page and the Grafana dashboard have each
 * of them, under this title.
 */
export const PANEL_TITLES = [
  'Services up',
  'Firing alerts',
  'Replication lag (bytes)',
  'Replication lag (seconds)',
  'Slot retained WAL',
  'Events produced per second by table',
  'Events consumed per second by group and table',
  'Consumer lag by group',
  'End-to-end latency p50 / p99 by sink',
  'Errors: retries, dead letters, stream restarts',
  'Cache operations per second',
] as const;

export interface ToolResult {
  status: number | null;
  /** Command line, exit status, stdout and stderr: what a failing assertion shows. */
  output: string;
}

export function runTool(command: string, args: readonly string[], cwd = REPO): ToolResult {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  const output = [
    `$ ${command} ${args.join(' ')}  (in ${cwd})`,
    `exit status: ${result.status ?? result.signal ?? String(result.error)}`,
    result.stdout?.trim() ?? '',
    result.stderr?.trim() ?? '',
  ]
    .filter((part) => part !== '')
    .join('\n');
  return { status: result.status, output };
}

export function promtool(args: readonly string[], cwd = REPO): ToolResult {
  return runTool(promtoolPath(), args, cwd);
}

/**
 * Checks PromQL expressions offline: promtool 2.42 has no query linter, but `check rules` parses
 * every rule's expression, so each expression becomes a recording rule of a throwaway file.
 */
export function checkPromqlOffline(exprs: readonly string[]): ToolResult {
  const dir = mkdtempSync(join(tmpdir(), 'cdc-cache-promql-'));
  const file = join(dir, 'exprs.yml');
  const rules = exprs.map((expr, index) => ({ record: `cdc_cache_check:expr_${index}`, expr }));
  writeFileSync(file, stringify({ groups: [{ name: 'expressions', rules }] }));
  const result = promtool(['check', 'rules', file]);
  return { status: result.status, output: `${result.output}\nexpressions:\n${exprs.join('\n')}` };
}

export interface QueryReply {
  httpStatus: number;
  status: string;
  error?: string;
}

/** Runs an instant query on the running Prometheus of the local stack. */
export async function queryPrometheus(expr: string): Promise<QueryReply> {
  const response = await fetch(`${PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await response.json()) as { status: string; error?: string };
  return { httpStatus: response.status, ...body };
}

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to dashes. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of every heading of a Markdown text. */
export function markdownAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) anchors.add(headingAnchor(heading[1]!));
  }
  return anchors;
}
