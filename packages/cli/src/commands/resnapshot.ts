import { type Config, redactConfig } from '@cdc-cache/core';
import { requestSnapshot } from '@cdc-cache/pg-source';
import pg from 'pg';
import type { Output } from '../cli.js';

export interface ResnapshotOptions {
  config: Config;
  table: string;
  wait: boolean;
  /** How often progress is read; a bar on a terminal, a line per change otherwise. */
  pollMs?: number;
  timeoutMs?: number;
  out: Output;
  isTTY: boolean;
}

/**
 * Asks the cdc-worker of the configured slot to read a table again (op `r` events, interleaved
 * with the stream, so nothing is lost or reordered), then follows its progress.
 */
export async function resnapshot(options: ResnapshotOptions): Promise<'done' | 'requested'> {
  const { config, table, out } = options;
  const postgres = config.source.postgres;
  if (!postgres.tables.includes(table)) {
    throw new Error(
      `table ${table} is not captured (source.postgres.tables: ${postgres.tables.join(', ')}); add it to the config first`,
    );
  }
  const url = new URL(postgres.url);
  if (postgres.password) url.password = postgres.password;
  const db = new pg.Client({ connectionString: url.toString(), application_name: 'cdc-cache resnapshot' });
  try {
    await db.connect();
  } catch (error) {
    throw new Error(
      `cannot reach PostgreSQL at ${String(redactConfig({ url: postgres.url }).url)}: ${(error as Error).message}`,
    );
  }
  try {
    const id = await requestSnapshot(db, postgres.slot, table);
    out.write(`requested snapshot #${id} of ${table} (slot ${postgres.slot})\n`);
    if (!options.wait) return 'requested';
    const started = Date.now();
    let lastLine = '';
    for (;;) {
      const { rows } = await db.query<{ status: string; rows_done: string; rows_estimated: string | null }>(
        'SELECT status, rows_done, rows_estimated FROM cdc_cache.snapshots WHERE id = $1',
        [id],
      );
      const row = rows[0];
      const done = Number(row?.rows_done ?? 0);
      const estimated = Math.max(done, Number(row?.rows_estimated ?? 0));
      const seconds = (Date.now() - started) / 1000;
      const line = progressLine(table, row?.status ?? 'requested', done, estimated, seconds);
      if (options.isTTY) out.write(`\r${line}`);
      else if (line !== lastLine && row?.status !== 'requested') out.write(`${line}\n`);
      lastLine = line;
      if (row?.status === 'done') {
        if (options.isTTY) out.write('\n');
        return 'done';
      }
      if (seconds * 1000 > (options.timeoutMs ?? 3_600_000)) {
        throw new Error(
          `snapshot #${id} of ${table} is still ${row?.status} after ${Math.round(seconds)} s; is a cdc-worker running for slot ${postgres.slot}?`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 500));
    }
  } finally {
    await db.end();
  }
}

/** `public.users [##########----------]  52%  52,000/100,000 rows  8,650 rows/s  running` */
export function progressLine(
  table: string,
  status: string,
  done: number,
  estimated: number,
  seconds: number,
): string {
  const fraction = estimated > 0 ? Math.min(1, done / estimated) : status === 'done' ? 1 : 0;
  const width = 20;
  const filled = Math.round(fraction * width);
  const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
  const rate = seconds > 0 ? Math.round(done / seconds) : 0;
  const count = (value: number) => value.toLocaleString('en-US');
  return `${table} [${bar}] ${String(Math.round(fraction * 100)).padStart(3)}%  ${count(done)}/${count(estimated)} rows  ${count(rate)} rows/s  ${status}`;
}
