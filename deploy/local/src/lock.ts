import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from './errors.js';
import type { StackLogFn } from './install.js';
import { processAlive, sleep } from './process-control.js';

const WAIT_LIMIT_MS = 20 * 60 * 1000; // a first `up` (installs included) takes a few minutes at most

let inProcess: Promise<unknown> = Promise.resolve();

/**
 * One stack command at a time: vitest's global setup, a developer's `up` and a `down` can overlap.
 * Within this process calls queue up; across processes a lock file holds the owner's pid (a lock
 * left by a dead process is taken over).
 */
export function withStackLock<T>(root: string, log: StackLogFn, fn: () => Promise<T>): Promise<T> {
  const run = inProcess.then(() => withFileLock(root, log, fn));
  inProcess = run.catch(() => undefined);
  return run;
}

async function withFileLock<T>(root: string, log: StackLogFn, fn: () => Promise<T>): Promise<T> {
  const dir = path.join(root, 'run');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'stack.lock');
  const deadline = Date.now() + WAIT_LIMIT_MS;
  let announced = false;
  for (;;) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder = Number.NaN;
    try {
      holder = Number.parseInt(readFileSync(file, 'utf8'), 10);
    } catch {
      continue; // released between our attempt and the read
    }
    if (!Number.isInteger(holder) || holder === process.pid || !processAlive(holder)) {
      rmSync(file, { force: true }); // left behind by a process that is gone
      continue;
    }
    if (Date.now() > deadline) {
      throw new StackError(
        `another stack command (pid ${holder}) has held ${file} for too long; stop it or remove the file`,
      );
    }
    if (!announced) {
      log(`waiting for another stack command to finish (pid ${holder})`);
      announced = true;
    }
    await sleep(500);
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}
