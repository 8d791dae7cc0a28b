import { spawn } from 'node:child_process';
import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { StackError } from './errors.js';
import type { ServerName } from './ports.js';
import { HOST } from './ports.js';
import type { RunAs } from './user.js';

export interface SpawnSpec {
  command: string;
  args: string[];
  /** The whole environment of the server (nothing is inherited, so a stray JAVA_TOOL_OPTIONS cannot leak in). */
  env: Record<string, string>;
  cwd: string;
}

export interface Spawned {
  pid: number;
  /** Set once the process has exited (so waiting for health can stop early). */
  exit: () => string | undefined;
}

/** Marks the start of one run in a server's log, so a failure shows only this run's lines. */
export const LOG_RUN_MARKER = '=== cdc-cache stack:';

/**
 * Start a server detached, in its own process group (so `down` can signal it and every child), with
 * stdout/stderr appended to its log file. The pid file is written by the caller.
 */
export function spawnServer(
  name: ServerName,
  spec: SpawnSpec,
  runAs: RunAs | undefined,
  logFile: string,
): Spawned {
  const fd = openSync(logFile, 'a');
  writeFileSync(
    fd,
    `\n${LOG_RUN_MARKER} starting ${name} at ${new Date().toISOString()}: ${spec.command} ${spec.args.join(' ')}\n`,
  );
  let exitInfo: string | undefined;
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', fd, fd],
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    child.on('error', (error) => {
      exitInfo = `could not start: ${error.message}`;
    });
    child.on('exit', (code, signal) => {
      exitInfo = signal ? `exited on signal ${signal}` : `exited with code ${code}`;
    });
    if (child.pid === undefined) throw new StackError(`${name}: could not start ${spec.command}`, name);
    // The server outlives this process: nothing here may keep the event loop (or the server) tied to us.
    child.unref();
    return { pid: child.pid, exit: () => exitInfo };
  } finally {
    closeSync(fd);
  }
}

export function readPidFile(file: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

export function writePidFile(file: string, pid: number): void {
  writeFileSync(file, `${pid}\n`);
}

export function removePidFile(file: string): void {
  rmSync(file, { force: true });
}

/** Alive and not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the parenthesised command name, which may itself contain spaces or ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

interface ProcEntry {
  pid: number;
  ppid: number;
  pgid: number;
  /** Clock ticks since boot: with the pid, identifies a process even if the pid is reused later. */
  start: string;
}

/** Every live process (zombies excluded) with its parent and process group. */
function liveProcesses(): ProcEntry[] {
  const out: ProcEntry[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z' || rest[0] === 'X') continue;
      out.push({ pid: Number(entry), ppid: Number(rest[1]), pgid: Number(rest[2]), start: rest[19] ?? '' });
    } catch {
      // raced with its exit
    }
  }
  return out;
}

/**
 * The processes that make up a server: its process group plus every descendant of the leader.
 * Both are needed: PostgreSQL's children each call setsid(), so they are not in the group.
 */
export function serverProcesses(leader: number): ProcEntry[] {
  const all = liveProcesses();
  const found = new Map(all.filter((p) => p.pid === leader || p.pgid === leader).map((p) => [p.pid, p]));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.set(p.pid, p);
        grew = true;
      }
    }
  }
  return [...found.values()];
}

/** The same process as when it was listed (not a later one that got its pid). */
function stillRunning(p: ProcEntry): boolean {
  return liveProcesses().some((q) => q.pid === p.pid && q.start === p.start);
}

/**
 * Whether `pid` is a process this stack started: its command line names the state folder (every
 * server is started with paths inside it), or its working directory is inside it (for servers that
 * rewrite their process title, such as redis). Guards `down` against a recycled pid.
 */
export function isOurProcess(pid: number, root: string): boolean {
  if (!processAlive(pid)) return false;
  const roots = new Set([root]);
  try {
    roots.add(realpathSync(root));
  } catch {
    // state folder gone: only the literal path can match
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    for (const r of roots) if (cmdline.includes(r)) return true;
  } catch {
    return false;
  }
  try {
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    for (const r of roots) if (cwd === r || cwd.startsWith(`${r}/`)) return true;
  } catch {
    // not readable: not ours (we run as root or as the same user as our servers)
  }
  return false;
}

export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 120);
  } catch {
    return '?';
  }
}

/**
 * Stop a server we started: signal it (the whole process group, or the leader only for servers that
 * shut their children down themselves), wait up to `timeoutMs` until none of its processes is left,
 * then SIGKILL whatever remains (group and descendants, noted before the first signal).
 */
export async function stopProcessGroup(
  pid: number,
  options: { signal: NodeJS.Signals; leaderOnly: boolean; timeoutMs: number },
): Promise<'stopped' | 'killed' | 'gone'> {
  const members = serverProcesses(pid);
  if (members.length === 0) return 'gone';
  const anyAlive = () => {
    const live = new Set(liveProcesses().map((q) => `${q.pid}/${q.start}`));
    return members.some((p) => live.has(`${p.pid}/${p.start}`));
  };
  try {
    process.kill(options.leaderOnly ? pid : -pid, options.signal);
  } catch {
    // already exiting
  }
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if (!anyAlive()) return 'stopped';
    await sleep(200);
  }
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is gone (its leader may have exited before its children)
  }
  for (const p of members) {
    try {
      if (stillRunning(p)) process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone in the meantime
    }
  }
  const killDeadline = Date.now() + 5000;
  while (Date.now() < killDeadline && anyAlive()) await sleep(100);
  return 'killed';
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function portAcceptsConnections(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(true)); // a listener that does not answer still holds the port
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Who listens on a TCP port, from /proc (no ss/lsof needed): the pid, or null if unknown. */
export function portListener(port: number): number | null {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (!local || cols[3] !== '0A') continue; // 0A = LISTEN
      if (Number.parseInt(local.split(':')[1] ?? '', 16) === port && cols[9]) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return null;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode && inodes.has(inode)) return Number(entry);
      } catch {
        // fd closed meanwhile
      }
    }
  }
  return null;
}

/** The process group of a pid (its leader is what we record in pid files). */
export function processGroupOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    return Number.isInteger(pgid) ? pgid : null;
  } catch {
    return null;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
