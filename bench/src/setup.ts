/**
 * The bench installs what it needs on first use and reuses it afterwards:
 *  - its own npm dependencies (the plotting stack, bench/package.json; not a workspace, so the
 *    product never depends on them);
 *  - Debian packages: wrk (NGINX load), redis-tools (redis-benchmark), pgbench (postgresql-15,
 *    already there with the local stack's PostgreSQL);
 *  - Debezium Server (io.debezium:debezium-server-dist, tar.gz) from Maven Central through
 *    `mvn dependency:copy`, unpacked into bench/.cache/debezium/<version>.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { progress } from './lib/log.js';
import { runOk } from './lib/proc.js';
import { BENCH_DIR, CACHE_DIR } from './paths.js';

export const DEBEZIUM_VERSION = '2.7.3.Final';

export interface Tools {
  pgbench: string;
  wrk: string;
  redisBenchmark: string;
  nginx: string;
  java: string;
  debeziumHome: string;
}

function which(command: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const candidate = path.join(dir, command);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/** Debian packages that are not installed (dpkg-query prints the installed ones). */
function missingPackages(packages: string[]): string[] {
  let output = '';
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} syntax
    output = execFileSync('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\\n', ...packages], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch (error) {
    output = String((error as { stdout?: unknown }).stdout ?? '');
  }
  const installed = new Set(
    output
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter(([, status]) => status === 'installed')
      .map(([name]) => name),
  );
  return packages.filter((p) => !installed.has(p));
}

async function ensureDebPackages(packages: string[]): Promise<void> {
  const missing = missingPackages(packages);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the bench needs the Debian packages ${missing.join(', ')}: run  sudo apt-get install -y ${missing.join(' ')}`,
    );
  }
  progress(`setup: installing Debian packages ${missing.join(', ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await runOk('apt-get', ['update', '-qq'], { env, timeoutMs: 300_000 });
  await runOk('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env,
    timeoutMs: 600_000,
  });
}

/** npm ci of bench/package.json when bench/node_modules is missing or older than the lock file. */
async function ensureNodeModules(): Promise<void> {
  const stamp = path.join(BENCH_DIR, 'node_modules', '.bench-installed');
  const lock = path.join(BENCH_DIR, 'package-lock.json');
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= statSync(lock).mtimeMs) return;
  progress('setup: installing the bench npm dependencies (npm ci in bench/)');
  await runOk('npm', ['ci', '--no-audit', '--no-fund'], { cwd: BENCH_DIR, timeoutMs: 600_000 });
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

async function ensureDebezium(): Promise<string> {
  const dir = path.join(CACHE_DIR, 'debezium', DEBEZIUM_VERSION);
  const home = path.join(dir, 'debezium-server');
  const runner = path.join(home, `debezium-server-dist-${DEBEZIUM_VERSION}-runner.jar`);
  if (existsSync(runner) && existsSync(path.join(dir, '.complete'))) return home;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  progress(`setup: fetching Debezium Server ${DEBEZIUM_VERSION} from Maven Central (mvn dependency:copy)`);
  await runOk(
    'mvn',
    [
      '-B',
      '-q',
      'dependency:copy',
      `-Dartifact=io.debezium:debezium-server-dist:${DEBEZIUM_VERSION}:tar.gz`,
      `-DoutputDirectory=${dir}`,
    ],
    { cwd: dir, timeoutMs: 900_000 },
  );
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tar.gz'));
  if (!tarball) throw new Error(`mvn dependency:copy left no tar.gz in ${dir}`);
  progress('setup: unpacking Debezium Server (without the optional extra connectors)');
  await runOk('tar', ['xzf', tarball, '--exclude=debezium-server/connectors'], {
    cwd: dir,
    timeoutMs: 600_000,
  });
  rmSync(path.join(dir, tarball));
  if (!existsSync(runner)) throw new Error(`unpacked Debezium Server has no ${path.basename(runner)}`);
  writeFileSync(path.join(dir, '.complete'), `${new Date().toISOString()}\n`);
  return home;
}

/** The first line of `java -version` (it prints to stderr). */
export function javaVersion(java: string): string {
  const result = spawnSync(java, ['-version'], { encoding: 'utf8' });
  return `${result.stderr ?? ''}${result.stdout ?? ''}`.split('\n')[0]?.trim() || 'unknown';
}

function javaMajor(java: string): number {
  return Number(/version "(\d+)/.exec(javaVersion(java))?.[1] ?? 0);
}

export async function setup(options: { debezium: boolean }): Promise<Tools> {
  mkdirSync(CACHE_DIR, { recursive: true });
  await ensureNodeModules();
  await ensureDebPackages([
    'wrk',
    'redis-tools',
    'nginx',
    'postgresql-15',
    ...(options.debezium ? ['maven'] : []),
  ]);
  const pgbench = ['/usr/lib/postgresql/15/bin/pgbench', which('pgbench')].find((p) => p && existsSync(p));
  const wrk = which('wrk');
  const redisBenchmark = which('redis-benchmark');
  const nginx = ['/usr/sbin/nginx', which('nginx')].find((p) => p && existsSync(p));
  if (!pgbench || !wrk || !redisBenchmark || !nginx) {
    throw new Error('setup: pgbench, wrk, redis-benchmark or nginx is still missing after apt-get install');
  }
  const java = process.env.JAVA_HOME
    ? path.join(process.env.JAVA_HOME, 'bin', 'java')
    : (which('java') ?? 'java');
  let debeziumHome = '';
  if (options.debezium) {
    if (javaMajor(java) < 11) {
      throw new Error(`Debezium Server 2.7 needs Java 11 or newer; ${java} is not (set JAVA_HOME)`);
    }
    debeziumHome = await ensureDebezium();
  }
  return { pgbench, wrk, redisBenchmark, nginx, java, debeziumHome };
}
