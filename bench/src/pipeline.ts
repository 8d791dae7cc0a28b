/**
 * PG -> Kafka: the cdc-worker and Debezium Server fed the identical workload and measured by
 * the same consumer (collector.ts), one system after the other on the same database.
 *
 * Throughput (backlog drain): both replication slots are created first; then every workload
 * is written (pgbench, seeded) while neither system runs, so both slots hold the very same
 * WAL. Each system in turn is started and drains it: changes/s = events / (last receipt -
 * first receipt). This measures the pipeline, not the load generator.
 *
 * Latency (live): each system then runs alone while pgbench offers a fixed load (1k/s, 5k/s,
 * as fast as it goes, bursts) with synchronous_commit=on, and the consumer measures commit ->
 * receive for every event. Each system's live load goes to its own copy of the tables
 * (schemas live_cdc and live_dbz, same script, same seed), so the other system never has it
 * as a backlog.
 */
import { topicFor } from '@cdc-cache/core';
import type pg from 'pg';
import type { Collector, Sink, SystemName } from './collector.js';
import { errorText, nowMs, progress, round, sleep } from './lib/log.js';
import { RssSampler } from './lib/proc.js';
import {
  type HistogramBin,
  type LatencySummary,
  logHistogram,
  summarize,
  type TimelinePoint,
  timeline,
} from './lib/stats.js';
import type { LivePhase, RunPlan } from './plan.js';
import type { Tools } from './setup.js';
import { DEBEZIUM_VERSION } from './setup.js';
import {
  type RunningWorker,
  scrapeCommitToKafka,
  startCdcWorker,
  waitStreaming,
} from './systems/cdc-worker.js';
import { debeziumErrors, type RunningDebezium, startDebezium } from './systems/debezium.js';
import {
  ALL_TABLES,
  changesBetween,
  committedChanges,
  type PgbenchResult,
  type PgTarget,
  pgUrl,
  runPgbench,
  WARMUP_SCHEMA,
  WORKLOAD_TABLES,
  type WorkloadName,
} from './workloads.js';

export const BACKLOG_SCHEMA = 'bench';
/** The route label of warm-up events (excluded from every figure). */
export const WARMUP_LABEL = 'warmup';
export const LIVE_SCHEMA: Record<SystemName, string> = { cdc: 'live_cdc', debezium: 'live_dbz' };

export interface SystemNames {
  topicPrefix: string;
  slot: string;
  publication: string;
}

export interface PipelineContext {
  tools: Tools;
  plan: RunPlan;
  target: PgTarget;
  db: pg.Client;
  brokers: string[];
  collector: Collector;
  names: Record<SystemName, SystemNames>;
  /** Where Debezium keeps its config and offsets for this run. */
  debeziumRunDir: string;
  /** Debezium properties set on the command line (--debezium-prop key=value), for tuning runs. */
  debeziumOverrides: Record<string, string>;
}

export function topicOf(system: SystemName, prefix: string, schema: string, table: string): string {
  return system === 'cdc' ? topicFor(prefix, schema, table) : `${prefix}.${schema}.${table}`;
}

/** The tables each system captures: the backlog schema and its own live schema. */
export function capturedTables(system: SystemName): { schema: string; table: string; label: string }[] {
  return [
    { schema: WARMUP_SCHEMA, table: 'counters', label: WARMUP_LABEL },
    ...[BACKLOG_SCHEMA, LIVE_SCHEMA[system]].flatMap((schema) =>
      ALL_TABLES.map((table) => ({ schema, table, label: table })),
    ),
  ];
}

/** Publications and slots of both systems, created before any change is written. */
export async function prepareReplication(ctx: PipelineContext, systems: SystemName[]): Promise<void> {
  for (const system of systems) {
    const { slot, publication } = ctx.names[system];
    const tables = capturedTables(system).map(({ schema, table }) => `${schema}.${table}`);
    await ctx.db.query(`CREATE PUBLICATION ${publication} FOR TABLE ${tables.join(', ')}`);
    await ctx.db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  }
}

export interface BacklogWorkload {
  workload: WorkloadName;
  transactions: number;
  seconds: number;
  tps: number;
  changes: Record<string, number>;
  totalChanges: number;
  command: string;
}

export interface Backlog {
  warmupChanges: number;
  workloads: BacklogWorkload[];
}

export async function writeBacklog(ctx: PipelineContext): Promise<Backlog> {
  const out: BacklogWorkload[] = [];
  const warmBefore = await committedChanges(ctx.db, WARMUP_SCHEMA);
  await runPgbench(ctx.tools.pgbench, ctx.target, {
    workload: 'update',
    schema: WARMUP_SCHEMA,
    transactionsPerClient: Math.ceil(ctx.plan.warmupTransactions / ctx.plan.backlogClients),
    clients: ctx.plan.backlogClients,
    seed: ctx.plan.seed,
    synchronousCommit: false,
    sizes: ctx.plan.sizes,
  });
  const warmupChanges = changesBetween(warmBefore, await committedChanges(ctx.db, WARMUP_SCHEMA), [
    'counters',
  ]).counters!;
  progress(`  warm-up: ${warmupChanges} updates (drained first, not counted)`);
  for (const { workload, transactions } of ctx.plan.backlog) {
    const clients = ctx.plan.backlogClients;
    const before = await committedChanges(ctx.db, BACKLOG_SCHEMA);
    const result = await runPgbench(ctx.tools.pgbench, ctx.target, {
      workload,
      schema: BACKLOG_SCHEMA,
      transactionsPerClient: Math.ceil(transactions / clients),
      clients,
      seed: ctx.plan.seed,
      synchronousCommit: false,
      sizes: ctx.plan.sizes,
    });
    const changes = changesBetween(
      before,
      await committedChanges(ctx.db, BACKLOG_SCHEMA),
      WORKLOAD_TABLES[workload],
    );
    const totalChanges = Object.values(changes).reduce((a, b) => a + b, 0);
    progress(
      `  backlog ${workload}: ${result.transactions} transactions, ${totalChanges} row changes (${Math.round(result.tps)} tx/s)`,
    );
    out.push({
      workload,
      transactions: result.transactions,
      seconds: round(result.seconds, 2),
      tps: Math.round(result.tps),
      changes,
      totalChanges,
      command: result.command,
    });
  }
  return { warmupChanges, workloads: out };
}

export interface ThroughputFigures {
  events: number;
  seconds: number;
  changesPerSec: number;
  /** Source transactions per second (pgbench's count over the same seconds). */
  transactionsPerSec?: number;
}

export interface DrainResult extends ThroughputFigures {
  expected: number;
  complete: boolean;
  /** From starting the process to the last event (includes start-up and connecting). */
  wallSeconds: number;
  perWorkload: Partial<Record<WorkloadName, ThroughputFigures>>;
  timeline: TimelinePoint[];
  cpu: CpuFigures | null;
}

export interface LiveResult {
  name: string;
  workload: WorkloadName;
  offeredTps: number | null;
  pgbench: { transactions: number; seconds: number; tps: number; command: string }[];
  expected: number;
  events: number;
  complete: boolean;
  /** Changes/s over the load (events / seconds from the first to the last receipt). */
  changesPerSec: number;
  /** commit -> received by the consumer, ms. */
  latencyMs: LatencySummary;
  /** commit -> Kafka record CreateTime (set by the producer), ms. */
  createTimeLatencyMs: LatencySummary;
  histogram: HistogramBin[];
  timeline: TimelinePoint[];
  rssMiB: { median: number | null; max: number | null };
  cpu: CpuFigures | null;
}

export interface SystemRun {
  system: SystemName;
  label: string;
  version: string;
  pid: number;
  startSeconds: number;
  drain: DrainResult | null;
  live: LiveResult[];
  rss: {
    steadyMiB: number | null;
    maxMiB: number | null;
    samples: { t: number; mib: number; cpuSeconds: number }[];
  };
  /** The cdc-worker's own commit -> Kafka-ack histogram after the run (cross-check). */
  selfReported?: unknown;
  config: unknown;
  errors: string[];
}

function window(sink: Sink, filter: (i: number) => boolean): { events: number; first: number; last: number } {
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  let events = 0;
  for (let i = 0; i < sink.count; i++) {
    if (!filter(i)) continue;
    const t = sink.receivedMs[i]!;
    if (t < first) first = t;
    if (t > last) last = t;
    events++;
  }
  return { events, first, last };
}

function throughput(sink: Sink, filter: (i: number) => boolean): ThroughputFigures {
  const { events, first, last } = window(sink, filter);
  const seconds = events > 1 ? (last - first) / 1000 : 0;
  return {
    events,
    seconds: round(seconds, 3),
    changesPerSec: seconds > 0 ? Math.round(events / seconds) : 0,
  };
}

export interface CpuFigures {
  /** CPU seconds of the system's process (user + system) over the window. */
  seconds: number;
  /** Of one core. */
  percentOfCore: number;
  msPer1kChanges: number;
}

function cpuFigures(sampler: RssSampler, fromMs: number, toMs: number, events: number): CpuFigures | null {
  const seconds = sampler.cpuBetween(fromMs, toMs);
  if (seconds === null || toMs <= fromMs || events === 0) return null;
  return {
    seconds: round(seconds, 2),
    percentOfCore: Math.round((seconds / ((toMs - fromMs) / 1000)) * 100),
    msPer1kChanges: round((seconds * 1000 * 1000) / events, 1),
  };
}

type Running = { kind: 'cdc'; worker: RunningWorker } | { kind: 'debezium'; server: RunningDebezium };

async function startSystem(ctx: PipelineContext, system: SystemName): Promise<Running> {
  const names = ctx.names[system];
  if (system === 'cdc') {
    const worker = await startCdcWorker({
      pgUrl: pgUrl(ctx.target),
      slot: names.slot,
      publication: names.publication,
      tables: capturedTables('cdc').map(({ schema, table }) => `${schema}.${table}`),
      brokers: ctx.brokers,
      topicPrefix: names.topicPrefix,
      partitions: ctx.plan.partitions,
      snapshot: 'never',
    });
    return { kind: 'cdc', worker };
  }
  const server = await startDebezium({
    home: ctx.tools.debeziumHome,
    java: ctx.tools.java,
    runDir: ctx.debeziumRunDir,
    version: DEBEZIUM_VERSION,
    pg: ctx.target,
    brokers: ctx.brokers,
    topicPrefix: names.topicPrefix,
    slot: names.slot,
    publication: names.publication,
    tableIncludeList: [WARMUP_SCHEMA, BACKLOG_SCHEMA, LIVE_SCHEMA.debezium].map((schema) => `${schema}\\..*`),
    snapshotMode: 'no_data',
    overrides: ctx.debeziumOverrides,
  });
  return { kind: 'debezium', server };
}

function pidOf(running: Running): number {
  return running.kind === 'cdc' ? running.worker.pid : running.server.pid;
}

async function stopSystem(running: Running): Promise<void> {
  if (running.kind === 'cdc') await running.worker.stop();
  else await running.server.stop();
}

function exitedEarly(running: Running): Promise<string> {
  const exited = running.kind === 'cdc' ? running.worker.process.exited : running.server.exited;
  return exited.then((code) => {
    const tail =
      running.kind === 'cdc'
        ? [
            ...running.worker.process.logs.slice(-5).map((l) => JSON.stringify(l)),
            ...running.worker.process.text.slice(-5),
          ]
        : running.server.lines.slice(-10);
    return `exited (${code}):\n${tail.join('\n')}`;
  });
}

export async function runSystem(
  ctx: PipelineContext,
  system: SystemName,
  backlog: Backlog,
): Promise<SystemRun> {
  const label = system === 'cdc' ? 'cdc-cache cdc-worker' : `Debezium Server ${DEBEZIUM_VERSION}`;
  const errors: string[] = [];
  const measured = backlog.workloads.reduce((a, w) => a + w.totalChanges, 0);
  const expected = backlog.warmupChanges + measured;
  const sink = ctx.collector.open(system, 'drain');
  const started = nowMs();
  progress(`${label}: starting`);
  const running = await startSystem(ctx, system);
  const rss = new RssSampler(pidOf(running), 500);
  let died = false;
  void exitedEarly(running).then((why) => {
    if (!died) errors.push(`${label} ${why}`);
    died = true;
  });
  const result: SystemRun = {
    system,
    label,
    version: system === 'cdc' ? 'working tree' : DEBEZIUM_VERSION,
    pid: pidOf(running),
    startSeconds: 0,
    drain: null,
    live: [],
    rss: { steadyMiB: null, maxMiB: null, samples: [] },
    config: running.kind === 'cdc' ? running.worker.config : running.server.properties,
    errors,
  };
  try {
    if (running.kind === 'cdc') await waitStreaming(running.worker);
    else await running.server.waitForLine(/Processing messages/, 120_000);
    result.startSeconds = round((nowMs() - started) / 1000, 2);
    progress(
      `${label}: draining the backlog: ${backlog.warmupChanges} warm-up + ${measured} measured changes`,
    );
    const timeoutMs = Math.max(90_000, expected * 2);
    const complete = await ctx.collector.waitFor(sink, expected, timeoutMs, `${label} drain`);
    ctx.collector.close(system);
    if (!complete && running.kind === 'debezium') errors.push(...debeziumErrors(running.server));
    rss.sampleNow();
    const measuredOnly = (i: number) => sink.tables[i] !== WARMUP_LABEL;
    const total = throughput(sink, measuredOnly);
    const span = window(sink, measuredOnly);
    const perWorkload: DrainResult['perWorkload'] = {};
    for (const w of backlog.workloads) {
      const tables = new Set(WORKLOAD_TABLES[w.workload]);
      const figures = throughput(sink, (i) => tables.has(sink.tables[i]!));
      figures.transactionsPerSec = figures.seconds > 0 ? Math.round(w.transactions / figures.seconds) : 0;
      perWorkload[w.workload] = figures;
    }
    const firstReceipt = Math.min(...sink.receivedMs.slice(0, 1000));
    result.drain = {
      ...total,
      expected: measured,
      complete,
      wallSeconds: round((Math.max(...sink.receivedMs.slice(-1000)) - started) / 1000, 2),
      perWorkload,
      timeline: timeline(sink.receivedMs, Number.isFinite(firstReceipt) ? firstReceipt : started, 250),
      cpu: cpuFigures(rss, span.first, span.last, total.events),
    };
    progress(
      `${label}: drained ${total.events}/${expected} changes in ${total.seconds} s = ${total.changesPerSec} changes/s ` +
        `(${Object.entries(perWorkload)
          .map(([w, f]) => `${w} ${f?.changesPerSec}/s`)
          .join(', ')})` +
        (result.drain.cpu
          ? `, CPU ${result.drain.cpu.percentOfCore}% of a core, ${result.drain.cpu.msPer1kChanges} ms per 1000 changes`
          : ''),
    );
    if (died) throw new Error(errors.join('\n'));
    for (const phase of ctx.plan.live) {
      const live = await runLivePhase(ctx, system, label, phase, rss);
      result.live.push(live);
      if (died) throw new Error(errors.join('\n'));
    }
    if (running.kind === 'cdc') result.selfReported = await scrapeCommitToKafka(running.worker);
  } catch (error) {
    errors.push(errorText(error));
    progress(`${label}: failed: ${errorText(error)}`);
  } finally {
    ctx.collector.close(system);
    died = true;
    await stopSystem(running);
    rss.stop();
  }
  const steadyPhase = result.live.find((l) => l.offeredTps === 5_000) ?? result.live[result.live.length - 1];
  const all = rss.samples.map((s) => s.mib);
  result.rss = {
    steadyMiB: steadyPhase?.rssMiB.median ?? null,
    maxMiB: all.length > 0 ? Math.max(...all) : null,
    samples: rss.samples.map((s) => ({
      t: round((s.atMs - started) / 1000, 1),
      mib: s.mib,
      cpuSeconds: round(s.cpuSeconds, 2),
    })),
  };
  return result;
}

async function runLivePhase(
  ctx: PipelineContext,
  system: SystemName,
  label: string,
  phase: LivePhase,
  rss: RssSampler,
): Promise<LiveResult> {
  const schema = LIVE_SCHEMA[system];
  const tables = WORKLOAD_TABLES[phase.workload];
  const before = await committedChanges(ctx.db, schema);
  const sink = ctx.collector.open(system, phase.name);
  const loadStarted = nowMs();
  sink.openedAtMs = loadStarted;
  const runs: PgbenchResult[] = [];
  const spec = {
    workload: phase.workload,
    schema,
    clients: phase.clients,
    seed: ctx.plan.seed,
    synchronousCommit: true,
    sizes: ctx.plan.sizes,
  };
  if (phase.bursts) {
    for (let b = 0; b < phase.bursts.count; b++) {
      const burstStarted = nowMs();
      runs.push(
        await runPgbench(ctx.tools.pgbench, ctx.target, {
          ...spec,
          seed: ctx.plan.seed + b,
          transactionsPerClient: Math.ceil(phase.bursts.transactions / phase.clients),
        }),
      );
      const rest = phase.bursts.gapMs - (nowMs() - burstStarted);
      if (b < phase.bursts.count - 1 && rest > 0) await sleep(rest);
    }
  } else {
    runs.push(
      await runPgbench(ctx.tools.pgbench, ctx.target, {
        ...spec,
        seconds: phase.seconds,
        ...(phase.rate !== null ? { rate: phase.rate } : {}),
      }),
    );
  }
  const loadEnded = nowMs();
  rss.sampleNow();
  const expected = Object.values(
    changesBetween(before, await committedChanges(ctx.db, schema), tables),
  ).reduce((a, b) => a + b, 0);
  const complete = await ctx.collector.waitFor(sink, expected, 60_000, `${label} ${phase.name}`);
  ctx.collector.close(system);
  rss.sampleNow();
  const span = window(sink, () => true);
  const latencies = sink.latencies();
  const latencyMs = summarize(latencies);
  const rssDuring = rss.between(loadStarted, loadEnded).sort((a, b) => a - b);
  const result: LiveResult = {
    name: phase.name,
    workload: phase.workload,
    offeredTps: phase.rate,
    pgbench: runs.map((r) => ({
      transactions: r.transactions,
      seconds: round(r.seconds, 2),
      tps: Math.round(r.tps),
      command: r.command,
    })),
    expected,
    events: sink.count,
    complete,
    changesPerSec: throughput(sink, () => true).changesPerSec,
    latencyMs,
    createTimeLatencyMs: summarize(sink.createTimeLatencies()),
    histogram: logHistogram(latencies, 0.5, 20),
    timeline: timeline(sink.receivedMs, loadStarted, 250),
    rssMiB: {
      median: rssDuring.length > 0 ? rssDuring[Math.floor(rssDuring.length / 2)]! : null,
      max: rssDuring.length > 0 ? rssDuring[rssDuring.length - 1]! : null,
    },
    cpu: cpuFigures(rss, loadStarted, Math.max(loadEnded, span.last), sink.count),
  };
  progress(
    `${label}: ${phase.name}: ${result.events}/${expected} changes, ${result.changesPerSec} changes/s, ` +
      `commit->receive p50 ${latencyMs.p50} p95 ${latencyMs.p95} p99 ${latencyMs.p99} max ${latencyMs.max} ms` +
      (result.rssMiB.median !== null ? `, RSS ${result.rssMiB.median} MiB` : '') +
      (result.cpu ? `, CPU ${result.cpu.percentOfCore}%` : ''),
  );
  return result;
}
