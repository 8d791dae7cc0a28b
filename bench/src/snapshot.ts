/**
 * Initial snapshot: each system, with a new slot, reads the whole `snap.accounts` table (1M rows
 * in full mode) into Kafka. rows/s = rows / (last receipt - first receipt) at the same consumer;
 * the wall time from process start to the last row is reported too (it includes the JVM's or
 * Node's start-up and the slot creation).
 */
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import type { SystemName } from './collector.js';
import { errorText, nowMs, progress, round } from './lib/log.js';
import { RssSampler } from './lib/proc.js';
import { CACHE_DIR } from './paths.js';
import type { PipelineContext } from './pipeline.js';
import { DEBEZIUM_VERSION } from './setup.js';
import { startCdcWorker } from './systems/cdc-worker.js';
import { debeziumErrors, startDebezium } from './systems/debezium.js';
import { pgUrl } from './workloads.js';

export const SNAPSHOT_SCHEMA = 'snap';
export const SNAPSHOT_TABLE = 'accounts';
export const SNAPSHOT_LABEL = 'snapshot';

export interface SnapshotResult {
  system: SystemName;
  label: string;
  rows: number;
  events: number;
  complete: boolean;
  seconds: number;
  rowsPerSec: number;
  wallSeconds: number;
  /** What the cdc-worker itself logged at `snapshot done`. */
  selfReported?: unknown;
  rssMaxMiB: number | null;
  cpuSeconds: number | null;
  errors: string[];
}

export async function runSnapshot(
  ctx: PipelineContext,
  system: SystemName,
  rows: number,
): Promise<SnapshotResult> {
  const label = system === 'cdc' ? 'cdc-cache cdc-worker' : `Debezium Server ${DEBEZIUM_VERSION}`;
  const slot = `${ctx.names[system].slot}_snap`;
  const publication = `${ctx.names[system].publication}_snap`;
  await ctx.db.query(`CREATE PUBLICATION ${publication} FOR TABLE ${SNAPSHOT_SCHEMA}.${SNAPSHOT_TABLE}`);
  const errors: string[] = [];
  const sink = ctx.collector.open(system, 'snapshot');
  const started = nowMs();
  progress(`${label}: snapshot of ${rows} rows`);
  let selfReported: unknown;
  let sampler: RssSampler | null = null;
  let stop: () => Promise<void> = async () => undefined;
  let complete = false;
  try {
    if (system === 'cdc') {
      const worker = await startCdcWorker({
        pgUrl: pgUrl(ctx.target),
        slot,
        publication,
        tables: [`${SNAPSHOT_SCHEMA}.${SNAPSHOT_TABLE}`],
        brokers: ctx.brokers,
        topicPrefix: ctx.names.cdc.topicPrefix,
        partitions: ctx.plan.partitions,
        snapshot: 'initial',
      });
      stop = () => worker.stop();
      sampler = new RssSampler(worker.pid, 500);
      complete = await ctx.collector.waitFor(sink, rows, Math.max(120_000, rows), `${label} snapshot`);
      const done = await worker.process
        .waitForLog((line) => line.msg === 'snapshot done', 10_000)
        .catch(() => undefined);
      if (done) selfReported = { rowsDone: done.rowsDone, rowsPerSecond: done.rowsPerSecond };
    } else {
      const server = await startDebezium({
        home: ctx.tools.debeziumHome,
        java: ctx.tools.java,
        runDir: mkdtempSync(path.join(CACHE_DIR, 'run-debezium-snapshot-')),
        version: DEBEZIUM_VERSION,
        pg: ctx.target,
        brokers: ctx.brokers,
        topicPrefix: ctx.names.debezium.topicPrefix,
        slot,
        publication,
        tableIncludeList: [`${SNAPSHOT_SCHEMA}\\.${SNAPSHOT_TABLE}`],
        snapshotMode: 'initial',
        overrides: ctx.debeziumOverrides,
      });
      stop = () => server.stop();
      sampler = new RssSampler(server.pid, 500);
      complete = await ctx.collector.waitFor(sink, rows, Math.max(120_000, rows), `${label} snapshot`);
      if (!complete) errors.push(...debeziumErrors(server));
    }
  } catch (error) {
    errors.push(errorText(error));
    progress(`${label}: snapshot failed: ${errorText(error)}`);
  } finally {
    ctx.collector.close(system);
    sampler?.sampleNow();
    await stop();
    sampler?.stop();
    await ctx.db
      .query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [
        slot,
      ])
      .catch((error: unknown) => errors.push(`dropping slot ${slot}: ${errorText(error)}`));
  }
  const first = sink.receivedMs[0] ?? started;
  const last = sink.receivedMs[sink.count - 1] ?? started;
  const seconds = (last - first) / 1000;
  const samples = sampler?.samples ?? [];
  const result: SnapshotResult = {
    system,
    label,
    rows,
    events: sink.count,
    complete,
    seconds: round(seconds, 2),
    rowsPerSec: seconds > 0 ? Math.round(sink.count / seconds) : 0,
    wallSeconds: round((last - started) / 1000, 2),
    ...(selfReported !== undefined ? { selfReported } : {}),
    rssMaxMiB: samples.length > 0 ? Math.max(...samples.map((s) => s.mib)) : null,
    cpuSeconds:
      samples.length > 1 ? round(samples[samples.length - 1]!.cpuSeconds - samples[0]!.cpuSeconds, 2) : null,
    errors,
  };
  progress(
    `${label}: snapshot ${result.events}/${rows} rows in ${result.seconds} s = ${result.rowsPerSec} rows/s ` +
      `(${result.wallSeconds} s from process start)`,
  );
  return result;
}
