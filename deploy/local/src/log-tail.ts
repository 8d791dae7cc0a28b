import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { LOG_RUN_MARKER } from './process-control.js';

/**
 * The last `lines` lines of a log text, starting no earlier than the last run marker (so a failed
 * start shows its own lines, not the previous run's). Pure, for the tests.
 */
export function lastLines(text: string, lines: number, sinceLastRun = true): string[] {
  let body = text;
  if (sinceLastRun) {
    const at = body.lastIndexOf(LOG_RUN_MARKER);
    if (at >= 0) body = body.slice(at);
  }
  const all = body.split('\n');
  if (all.at(-1) === '') all.pop();
  return all.slice(-lines);
}

/** Reads at most the last 256 KiB of a file: logs (Kafka's config dump) can be large. */
export function readTail(file: string, maxBytes = 256 * 1024): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export function tailOf(file: string, lines = 20, sinceLastRun = true): string[] {
  return lastLines(readTail(file), lines, sinceLastRun);
}
