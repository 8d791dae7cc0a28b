import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { errorMessage, StackError } from './errors.js';
import type { ServerStatus } from './format.js';
import { ensureDebPackages, packagesForTools } from './install.js';
import { withStackLock } from './lock.js';
import { tailOf } from './log-tail.js';
import {
  FALLBACK_STATE_PARENT,
  layout,
  pathTraversableByOthers,
  pidPath,
  repoStateLink,
  stateDir,
} from './paths.js';
import type { ServerName } from './ports.js';
import { isServerName, PORTS, SERVER_NAMES } from './ports.js';
import type { Spawned } from './process-control.js';
import {
  commandOf,
  isOurProcess,
  portAcceptsConnections,
  portListener,
  processAlive,
  processGroupOf,
  readPidFile,
  removePidFile,
  sleep,
  spawnServer,
  stopProcessGroup,
  writePidFile,
} from './process-control.js';
import { SERVERS } from './servers/index.js';
import type { ServerDef } from './servers/types.js';
import { ServerContext } from './servers/types.js';
import type { RunAs } from './user.js';
import { currentRunAs, ensureRunAs, ownedDir } from './user.js';

export type StackLog = (line: string) => void;

const STOP_TIMEOUT_MS = 20_000;
const POLL_MS = 300;

const defaultLog: StackLog = (line) => {
  process.stderr.write(`[stack] ${line}\n`);
};

function seconds(sinceMs: number): string {
  return `${((Date.now() - sinceMs) / 1000).toFixed(1)}s`;
}

/**
 * Create the state folder. As root the servers run as an unprivileged user, so every folder on the
 * way must be traversable by it (explicit modes: root's umask may be 077); when the repository is
 * not, stateDir() chose a folder under /var/lib/cdc-cache and `<repo>/.stack` links to it.
 */
function ensureLayout(root: string, runAs: RunAs | undefined, log: StackLog): void {
  const fallback = root.startsWith(`${FALLBACK_STATE_PARENT}/`) && !process.env.CDC_CACHE_STATE_DIR;
  if (fallback) {
    mkdirSync(FALLBACK_STATE_PARENT, { recursive: true });
    chmodSync(FALLBACK_STATE_PARENT, 0o755);
  }
  mkdirSync(root, { recursive: true });
  // Always (not only when created): the lock file may have created the folder under a strict umask.
  if (runAs) chmodSync(root, 0o755);
  if (fallback) {
    const link = repoStateLink();
    let exists = false;
    try {
      lstatSync(link);
      exists = true;
    } catch {
      // no link yet
    }
    if (!exists) {
      symlinkSync(root, link);
      log(
        `the repository is not traversable by ${runAs?.name ?? 'the server user'}: state in ${root} (linked from ${link})`,
      );
    }
  }
  const l = layout(root);
  for (const dir of [l.opt, l.data, l.logs, l.run, l.conf]) {
    mkdirSync(dir, { recursive: true });
    if (runAs) chmodSync(dir, 0o755);
  }
  ownedDir(l.home, runAs);
  if (runAs && !pathTraversableByOthers(root)) {
    throw new StackError(
      `the state folder ${root} is not reachable by the unprivileged user ${runAs.name} (a parent folder lacks o+x); ` +
        'choose another with CDC_CACHE_STATE_DIR or unset it to use the default',
    );
  }
}

/** The pid of a server this stack runs, from its pid file; a stale pid file is removed if `clean`. */
function ourPid(root: string, name: ServerName, clean: boolean, log?: StackLog): number | null {
  const file = pidPath(root, name);
  const pid = readPidFile(file);
  if (pid !== null && isOurProcess(pid, root)) return pid;
  if (clean && existsSync(file)) {
    removePidFile(file);
    log?.(`${name}: removed a stale pid file${pid === null ? '' : ` (pid ${pid} is gone or not ours)`}`);
  }
  return null;
}

/**
 * A server of ours that lost its pid file (state folder copied, pid file deleted): found through the
 * process listening on its port. Returns its process group leader.
 */
function orphanOf(root: string, def: ServerDef): number | null {
  for (const port of def.ports) {
    const listener = portListener(port);
    if (listener === null || !isOurProcess(listener, root)) continue;
    const leader = processGroupOf(listener);
    if (leader !== null && processAlive(leader) && isOurProcess(leader, root)) return leader;
  }
  return null;
}

async function checkPortsFree(def: ServerDef): Promise<void> {
  for (const port of def.ports) {
    if (!(await portAcceptsConnections(port))) continue;
    const owner = portListener(port);
    const who = owner === null ? 'another process' : `pid ${owner} (${commandOf(owner)})`;
    throw new StackError(
      `${def.name}: port ${port} on 127.0.0.1 is already taken by ${who}, not started by this stack; ` +
        `stop that process (or free port ${port}) and run \`npm run stack -- up\` again`,
      def.name,
    );
  }
}

function startFailure(def: ServerDef, ctx: ServerContext, why: string): StackError {
  const log = ctx.logFile(def.name);
  const tail = tailOf(log, 20);
  return new StackError(
    `${def.name} failed to start: ${why}.\n` +
      `Last lines of ${log}:\n${tail.length ? tail.map((l) => `  ${l}`).join('\n') : '  (empty)'}\n` +
      `Fix the cause shown above (full log: npm run stack -- logs ${def.name}), then run \`npm run stack -- up\` again.`,
    def.name,
  );
}

/** Poll the server's real protocol check until healthy; stop early if the process is gone. */
async function waitHealthy(
  def: ServerDef,
  ctx: ServerContext,
  pid: number,
  spawned?: Spawned,
): Promise<void> {
  const deadline = Date.now() + def.startTimeoutMs;
  for (;;) {
    const probe = await def.probe(ctx);
    if (probe.healthy) return;
    const exited = spawned?.exit() ?? (processAlive(pid) ? undefined : 'exited');
    if (exited)
      throw startFailure(
        def,
        ctx,
        `the process ${exited} before it was healthy (last check: ${probe.detail})`,
      );
    if (Date.now() > deadline) {
      throw startFailure(
        def,
        ctx,
        `not healthy after ${def.startTimeoutMs / 1000}s (last check: ${probe.detail})`,
      );
    }
    await sleep(POLL_MS);
  }
}

async function startServer(def: ServerDef, ctx: ServerContext, root: string): Promise<void> {
  const t0 = Date.now();
  await def.prepare(ctx);
  const spawned = spawnServer(def.name, def.command(ctx), ctx.runAs, ctx.logFile(def.name));
  writePidFile(pidPath(root, def.name), spawned.pid);
  try {
    await waitHealthy(def, ctx, spawned.pid, spawned);
  } catch (error) {
    // Never leave a half-started server behind: the next `up` starts from a clean slate.
    await stopServer(def, spawned.pid);
    removePidFile(pidPath(root, def.name));
    throw error;
  }
  ctx.log(`${def.name}: healthy on 127.0.0.1:${def.ports[0]} (pid ${spawned.pid}, ${seconds(t0)})`);
}

async function keepRunning(def: ServerDef, ctx: ServerContext, pid: number): Promise<void> {
  const changed = def.syncConfig ? await def.syncConfig(ctx, pid) : null;
  if (changed) ctx.log(`${def.name}: ${changed}`);
  const deadline = Date.now() + def.startTimeoutMs;
  for (;;) {
    const probe = await def.probe(ctx);
    if (probe.healthy) return;
    if (!processAlive(pid)) throw startFailure(def, ctx, `the running process (pid ${pid}) exited`);
    if (Date.now() > deadline) {
      throw new StackError(
        `${def.name} is running (pid ${pid}) but not healthy: ${probe.detail}; ` +
          `see npm run stack -- logs ${def.name}, or restart it with \`npm run stack -- down\` and \`up\``,
        def.name,
      );
    }
    await sleep(POLL_MS);
  }
}

function stopServer(def: ServerDef, pid: number) {
  return stopProcessGroup(pid, {
    signal: def.stop?.signal ?? 'SIGTERM',
    leaderOnly: def.stop?.leaderOnly ?? false,
    timeoutMs: STOP_TIMEOUT_MS,
  });
}

/** The first failure by server order; the others are named in its message. */
function firstFailure(
  results: PromiseSettledResult<void>[],
  names: readonly ServerName[],
): StackError | undefined {
  const failures = results
    .map((r, i) => ({ r, name: names[i]! }))
    .filter((x): x is { r: PromiseRejectedResult; name: ServerName } => x.r.status === 'rejected');
  const first = failures[0];
  if (!first) return undefined;
  const error =
    first.r.reason instanceof StackError
      ? first.r.reason
      : new StackError(errorMessage(first.r.reason), first.name);
  if (failures.length === 1) return error;
  const others = failures.slice(1).map((f) => `${f.name} (${errorMessage(f.r.reason).split('\n')[0]})`);
  return new StackError(`${error.message}\nAlso failed: ${others.join('; ')}`, error.server, {
    cause: error,
  });
}

function checkNames(names: readonly string[]): ServerName[] {
  const unknown = names.filter((n) => !isServerName(n));
  if (unknown.length)
    throw new StackError(
      `unknown server(s) ${unknown.join(', ')}; the servers are ${SERVER_NAMES.join(', ')}`,
    );
  // In stack order, without duplicates.
  return SERVER_NAMES.filter((n) => names.includes(n));
}

/** Install what is missing, start what is not running, and wait until every server is healthy. */
export async function up(options: { only?: ServerName[]; log?: StackLog } = {}): Promise<void> {
  const log = options.log ?? defaultLog;
  const names = options.only?.length ? checkNames(options.only) : [...SERVER_NAMES];
  const root = stateDir();
  const t0 = Date.now();
  await withStackLock(root, log, async () => {
    const runAs = ensureRunAs(log);
    ensureLayout(root, runAs, log);
    const ctx = new ServerContext(layout(root), runAs, log);

    const running = new Map<ServerName, number>();
    const toStart: ServerDef[] = [];
    for (const name of names) {
      const def = SERVERS[name];
      const pid = ourPid(root, name, true, log) ?? orphanOf(root, def);
      if (pid !== null) {
        writePidFile(pidPath(root, name), pid);
        running.set(name, pid);
      } else {
        toStart.push(def);
      }
    }

    if (toStart.length > 0) {
      const installLog = path.join(ctx.layout.logs, 'install.log');
      const debs = [
        ...toStart.flatMap((d) => d.debPackages),
        ...packagesForTools(toStart.flatMap((d) => d.tools ?? [])),
      ];
      await ensureDebPackages(debs, log, installLog);
      const installs = await Promise.allSettled(toStart.map((d) => d.install?.(ctx) ?? Promise.resolve()));
      const installFailure = firstFailure(
        installs,
        toStart.map((d) => d.name),
      );
      if (installFailure) throw installFailure;
      for (const def of toStart) await checkPortsFree(def);
    }

    const work = names.map((name) => {
      const pid = running.get(name);
      return pid === undefined ? startServer(SERVERS[name], ctx, root) : keepRunning(SERVERS[name], ctx, pid);
    });
    const failure = firstFailure(await Promise.allSettled(work), names);
    if (failure) throw failure;
    const already = names.filter((n) => running.has(n));
    log(
      `up: ${names.length} server(s) healthy in ${seconds(t0)}` +
        (already.length ? ` (already running: ${already.join(', ')})` : '') +
        `; state in ${root}`,
    );
  });
}

async function stopAll(root: string, log: StackLog): Promise<void> {
  const names = [...SERVER_NAMES].reverse();
  await Promise.all(
    names.map(async (name) => {
      const def = SERVERS[name];
      const pid = ourPid(root, name, true, log) ?? orphanOf(root, def);
      if (pid === null) return;
      const t0 = Date.now();
      const how = await stopServer(def, pid);
      removePidFile(pidPath(root, name));
      if (how === 'killed')
        log(
          `${name}: did not stop within ${STOP_TIMEOUT_MS / 1000}s of ${def.stop?.signal ?? 'SIGTERM'}; killed (pid ${pid})`,
        );
      else log(`${name}: stopped (pid ${pid}, ${seconds(t0)})`);
    }),
  );
}

/** Stop every server this stack started (and nothing else). */
export async function down(options: { log?: StackLog } = {}): Promise<void> {
  const log = options.log ?? defaultLog;
  const root = stateDir();
  if (!existsSync(root)) return;
  await withStackLock(root, log, () => stopAll(root, log));
}

/** `down`, then delete every server's data, logs and rendered configuration (installs are kept). */
export async function reset(options: { log?: StackLog } = {}): Promise<void> {
  const log = options.log ?? defaultLog;
  const root = stateDir();
  if (!existsSync(root)) return;
  await withStackLock(root, log, async () => {
    await stopAll(root, log);
    const l = layout(root);
    for (const dir of [l.data, l.logs, l.conf, l.home]) rmSync(dir, { recursive: true, force: true });
    for (const entry of readdirSync(l.run))
      if (entry !== 'stack.lock') rmSync(path.join(l.run, entry), { recursive: true, force: true });
    log(`reset: data, logs and configuration deleted from ${root} (installs in ${l.opt} kept)`);
  });
}

function probeContext(): ServerContext {
  return new ServerContext(layout(stateDir()), currentRunAs(), () => undefined);
}

export async function isHealthy(name: ServerName): Promise<boolean> {
  if (!isServerName(name))
    throw new StackError(`unknown server ${name}; the servers are ${SERVER_NAMES.join(', ')}`);
  return (await SERVERS[name].probe(probeContext())).healthy;
}

/** Every server: pid (if this stack runs it), version and a real protocol health check. */
export async function status(): Promise<ServerStatus[]> {
  const ctx = probeContext();
  const root = ctx.layout.root;
  return Promise.all(
    SERVER_NAMES.map(async (name): Promise<ServerStatus> => {
      const def = SERVERS[name];
      const pid = existsSync(root) ? ourPid(root, name, false) : null;
      const probe = await def.probe(ctx);
      const version = probe.healthy ? await def.version(ctx) : null;
      let detail = probe.detail;
      if (pid === null && probe.healthy) detail += ' (but not started by this stack)';
      else if (pid === null) detail = `not running (${probe.detail})`;
      return { name, port: PORTS[name], pid, version, healthy: probe.healthy, detail };
    }),
  );
}
