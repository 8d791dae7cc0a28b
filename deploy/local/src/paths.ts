import { createHash } from 'node:crypto';
import { lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerName } from './ports.js';

/** deploy/local/src -> the repository root (Node resolves the workspace symlink to this real path). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where state lives when the repository itself cannot be traversed by the unprivileged user. */
export const FALLBACK_STATE_PARENT = '/var/lib/cdc-cache';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** `/var/lib/cdc-cache/<12 hex of sha256(repo path)>`: stable per clone, distinct between clones. */
export function fallbackStateDir(repoRoot: string): string {
  const hash = createHash('sha256').update(repoRoot).digest('hex').slice(0, 12);
  return path.join(FALLBACK_STATE_PARENT, hash);
}

/** Every directory from `dir` up to `/`, `dir` first. */
export function ancestors(dir: string): string[] {
  const out: string[] = [];
  let current = path.resolve(dir);
  for (;;) {
    out.push(current);
    const parent = path.dirname(current);
    if (parent === current) return out;
    current = parent;
  }
}

/**
 * Whether a user that owns none of these directories and is in none of their groups (our freshly
 * created system user) can reach through them: each needs the "others" execute bit.
 */
export function traversableByOthers(modes: readonly number[]): boolean {
  return modes.every((mode) => (mode & 0o001) !== 0);
}

export function pathTraversableByOthers(dir: string): boolean {
  try {
    return traversableByOthers(ancestors(dir).map((d) => statSync(d).mode));
  } catch {
    return false;
  }
}

/**
 * The state folder: `CDC_CACHE_STATE_DIR` if set; otherwise `<repo>/.stack`, or the folder it links
 * to; or, when running as root in a repository the unprivileged user cannot traverse (a clone under
 * /root, mode 700), the fallback under /var/lib/cdc-cache (`up` then links `<repo>/.stack` to it).
 * Pure lookup: creates nothing.
 */
export function stateDir(): string {
  const fromEnv = process.env.CDC_CACHE_STATE_DIR;
  if (fromEnv) return path.resolve(fromEnv);
  const link = repoStateLink();
  try {
    if (lstatSync(link).isSymbolicLink()) {
      try {
        return realpathSync(link);
      } catch {
        return path.resolve(path.dirname(link), readlinkSync(link));
      }
    }
  } catch {
    // no .stack yet: decide below
  }
  if (isRoot() && !pathTraversableByOthers(REPO_ROOT)) return fallbackStateDir(REPO_ROOT);
  return link;
}

export function repoStateLink(): string {
  return path.join(REPO_ROOT, '.stack');
}

/** The folders inside the state folder. `opt` (installs) survives `reset`; the rest is state. */
export interface Layout {
  root: string;
  /** Maven downloads and unpacked distributions (Kafka jars, Elasticsearch). */
  opt: string;
  /** One folder per server. */
  data: string;
  /** `<name>.log` per server (its stdout and stderr) and install.log. */
  logs: string;
  /** `<name>.pid` per server, lock file, sockets and temp dirs. */
  run: string;
  /** Rendered configuration per server. */
  conf: string;
  /** HOME of the servers (the JVMs like to write there). */
  home: string;
}

export function layout(root: string = stateDir()): Layout {
  return {
    root,
    opt: path.join(root, 'opt'),
    data: path.join(root, 'data'),
    logs: path.join(root, 'logs'),
    run: path.join(root, 'run'),
    conf: path.join(root, 'conf'),
    home: path.join(root, 'home'),
  };
}

export function logPath(name: ServerName): string {
  return path.join(layout().logs, `${name}.log`);
}

export function pidPath(root: string, name: ServerName): string {
  return path.join(root, 'run', `${name}.pid`);
}
