import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { errorMessage, StackError } from './errors.js';
import { isRoot } from './paths.js';

/** The unprivileged system user every server runs as when the stack is started by root. */
export const RUN_AS_USER = 'cdccache';

/** Who the servers run as: `undefined` means "as the current user" (no uid switch, no chown). */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
}

function lookup(name: string): RunAs | undefined {
  try {
    const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
    const fields = line.split(':');
    const uid = Number(fields[2]);
    const gid = Number(fields[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
    return { name, uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * PostgreSQL, Elasticsearch and memcached refuse to run as root; for uniformity every server runs
 * as the same unprivileged user when we are root. Creates the user on first use.
 */
export function ensureRunAs(log: (line: string) => void): RunAs | undefined {
  if (!isRoot()) return undefined;
  const existing = lookup(RUN_AS_USER);
  if (existing) return existing;
  log(`creating system user ${RUN_AS_USER} (the servers refuse to run as root)`);
  try {
    execFileSync(
      'useradd',
      [
        '--system',
        '--user-group',
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        RUN_AS_USER,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } catch (error) {
    throw new StackError(`could not create the system user ${RUN_AS_USER}: ${errorMessage(error)}`);
  }
  const created = lookup(RUN_AS_USER);
  if (!created) throw new StackError(`useradd reported success but user ${RUN_AS_USER} is not there`);
  return created;
}

/** The run-as user if it exists, without creating it (for status/down). */
export function currentRunAs(): RunAs | undefined {
  return isRoot() ? lookup(RUN_AS_USER) : undefined;
}

/** mkdir -p, then hand the leaf folder to the run-as user (the servers write there). */
export function ownedDir(dir: string, runAs: RunAs | undefined, mode?: number): string {
  mkdirSync(dir, { recursive: true, ...(mode === undefined ? {} : { mode }) });
  if (runAs) chownSync(dir, runAs.uid, runAs.gid);
  return dir;
}

/** Write a file the servers read (and some, like Elasticsearch's keystore folder, write next to). */
export function ownedFile(file: string, content: string, runAs: RunAs | undefined): void {
  writeFileSync(file, content);
  if (runAs) chownSync(file, runAs.uid, runAs.gid);
}
