import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { StackError } from './errors.js';
import { lastLines, readTail } from './log-tail.js';
import { isRoot } from './paths.js';
import type { ServerName } from './ports.js';
import type { RunAs } from './user.js';

export type StackLogFn = (line: string) => void;

/** Commands the installs themselves need, and the Debian package that brings each. */
const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  mvn: 'maven',
  unzip: 'unzip',
  java: 'openjdk-17-jre-headless',
};

export function commandExists(command: string): boolean {
  const dirs = (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':');
  return dirs.some((dir) => dir && existsSync(path.join(dir, command)));
}

export function packagesForTools(tools: readonly string[]): string[] {
  return tools.filter((tool) => !commandExists(tool)).map((tool) => TOOL_PACKAGES[tool] ?? tool);
}

/** Parse `dpkg-query -W -f '${Package} ${db:Status-Status}\n'` output: the installed package names. */
export function installedFromDpkgQuery(output: string): Set<string> {
  const installed = new Set<string>();
  for (const line of output.split('\n')) {
    const [name, status] = line.trim().split(/\s+/);
    if (name && status === 'installed') installed.add(name.split(':')[0] ?? name);
  }
  return installed;
}

export function missingDebPackages(packages: readonly string[]): string[] {
  if (packages.length === 0) return [];
  let output = '';
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format syntax
    output = execFileSync('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\\n', ...packages], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch (error) {
    // dpkg-query exits 1 when some package is unknown, but still prints the known ones.
    output = String((error as { stdout?: unknown }).stdout ?? '');
  }
  const installed = installedFromDpkgQuery(output);
  return packages.filter((p) => !installed.has(p));
}

/** Whether apt's package lists were refreshed in the last day (then `apt-get update` is skipped). */
function aptListsFresh(): boolean {
  const dir = '/var/lib/apt/lists';
  try {
    const dayAgo = Date.now() - 24 * 3600 * 1000;
    return readdirSync(dir).some(
      // Lists may be stored compressed (_Packages.lz4); InRelease is rewritten by an update that found changes.
      (f) =>
        (f.includes('_Packages') || f.endsWith('InRelease')) && statSync(path.join(dir, f)).mtimeMs > dayAgo,
    );
  } catch {
    return false;
  }
}

const POLICY_RC_D = '/usr/sbin/policy-rc.d';

/**
 * Install the missing Debian packages. Their postinst scripts must not start system services (they
 * would take the standard ports and run beside ours), so a policy-rc.d that denies every start is in
 * place for the duration of the install; one that already exists is left as it is.
 */
export async function ensureDebPackages(
  packages: readonly string[],
  log: StackLogFn,
  logFile: string,
): Promise<void> {
  const missing = missingDebPackages([...new Set(packages)]);
  if (missing.length === 0) return;
  if (!isRoot()) {
    throw new StackError(
      `missing Debian packages: ${missing.join(' ')}; install them with ` +
        `\`sudo apt-get install -y --no-install-recommends ${missing.join(' ')}\` and run up again`,
    );
  }
  log(`installing Debian packages: ${missing.join(' ')} (log: ${logFile})`);
  const createdPolicy = !existsSync(POLICY_RC_D);
  if (createdPolicy) {
    writeFileSync(
      POLICY_RC_D,
      '#!/bin/sh\n# cdc-cache local stack: no service starts during our apt-get install\nexit 101\n',
    );
    chmodSync(POLICY_RC_D, 0o755);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', NEEDRESTART_MODE: 'l' };
  const install = [
    '-y',
    '-q',
    '--no-install-recommends',
    '-o',
    'DPkg::Lock::Timeout=300',
    'install',
    ...missing,
  ];
  try {
    let updated = false;
    if (!aptListsFresh()) {
      log('refreshing apt package lists (apt-get update)');
      await runLogged('apt-get', ['-q', '-o', 'DPkg::Lock::Timeout=300', 'update'], { logFile, env });
      updated = true;
    }
    try {
      await runLogged('apt-get', install, { logFile, env });
    } catch (error) {
      if (updated) throw error;
      // Fresh-looking lists can still miss a package (a point release moved it): update once, retry.
      log('apt-get install failed; refreshing package lists and retrying');
      await runLogged('apt-get', ['-q', '-o', 'DPkg::Lock::Timeout=300', 'update'], { logFile, env });
      await runLogged('apt-get', install, { logFile, env });
    }
  } finally {
    if (createdPolicy) rmSync(POLICY_RC_D, { force: true });
  }
  const still = missingDebPackages(missing);
  if (still.length > 0)
    throw new StackError(`apt-get finished but ${still.join(' ')} is still not installed; see ${logFile}`);
}

export interface RunOptions {
  logFile: string;
  env?: NodeJS.ProcessEnv | Record<string, string>;
  cwd?: string;
  runAs?: RunAs | undefined;
  server?: ServerName;
  timeoutMs?: number;
}

/**
 * Run a command to completion with its output appended to a log file; on failure throw with the
 * command, the log's last lines and where the full log is.
 */
export function runLogged(command: string, args: readonly string[], options: RunOptions): Promise<void> {
  const fd = openSync(options.logFile, 'a');
  writeFileSync(fd, `\n$ ${command} ${args.join(' ')}\n`);
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', fd, fd],
      env: options.env ?? process.env,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
    });
    closeSync(fd);
    const timeoutMs = options.timeoutMs ?? 15 * 60 * 1000;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const fail = (why: string) => {
      const tail = lastLines(readTail(options.logFile), 20, false).join('\n');
      const who = options.server ? `${options.server}: ` : '';
      reject(
        new StackError(
          `${who}\`${command} ${args.join(' ')}\` ${why}; last lines of ${options.logFile}:\n${tail}`,
          options.server,
        ),
      );
    };
    child.once('error', (error) => {
      clearTimeout(timer);
      fail(`could not run (${error.message})`);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        fail(
          signal
            ? `was killed (${signal}${signal === 'SIGKILL' ? `, timeout ${timeoutMs} ms` : ''})`
            : `failed (exit ${code})`,
        );
    });
  });
}

/** Run Maven quietly in batch mode; its ~/.m2 cache makes a repeat download fast. */
export function runMaven(args: readonly string[], logFile: string, server: ServerName): Promise<void> {
  return runLogged('mvn', ['-B', '-q', '--no-transfer-progress', ...args], { logFile, server });
}
