/**
 * bench/REPORT.md and its plots (bench/plots/*.png), regenerated from the latest results file
 * (bench/results/*.json with benchmark "cdc-cache-bench", newest startedAt).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { progress } from '../lib/log.js';
import { BENCH_DIR, PLOTS_DIR, REPORT_FILE, RESULTS_DIR } from '../paths.js';
import type { LiveResult, SystemRun } from '../pipeline.js';
import { BENCHMARK_ID, type BenchDocument } from '../results.js';
import { WORKLOAD_TITLES, type WorkloadName } from '../workloads.js';
import { renderPng } from './render.js';

const SYSTEM_NAMES: Record<string, string> = { cdc: 'cdc-cache', debezium: 'Debezium Server' };

export function latestResults(): { file: string; doc: BenchDocument } {
  const candidates = readdirSync(RESULTS_DIR)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      try {
        const doc = JSON.parse(readFileSync(path.join(RESULTS_DIR, f), 'utf8')) as BenchDocument;
        // Only complete runs (with the PG -> Kafka comparison) make the report.
        return doc.benchmark === BENCHMARK_ID && doc.results?.pipeline && doc.versions
          ? [{ file: f, doc }]
          : [];
      } catch {
        return [];
      }
    })
    .sort((a, b) => a.doc.startedAt.localeCompare(b.doc.startedAt));
  const latest = candidates[candidates.length - 1];
  if (!latest)
    throw new Error(`no ${BENCHMARK_ID} results in ${RESULTS_DIR}: run npm run bench -- --quick first`);
  return latest;
}

const fmt = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined || Number.isNaN(n)
    ? '–'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (n: number | null | undefined): string =>
  n === null || n === undefined || Number.isNaN(n) ? '–' : n < 10 ? fmt(n, 1) : fmt(n);
const ratio = (a: number | null | undefined, b: number | null | undefined): string =>
  a && b ? `**${(a / b).toFixed(2)}x**` : '–';

function table(head: string[], rows: (string | number)[][], align?: ('l' | 'r')[]): string {
  const a = align ?? head.map((_, i) => (i === 0 ? 'l' : 'r'));
  return [
    `| ${head.join(' | ')} |`,
    `| ${a.map((x) => (x === 'l' ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function runOf(doc: BenchDocument, system: string): SystemRun | undefined {
  return doc.results.pipeline?.runs.find((r) => r.system === system);
}

function liveOf(run: SystemRun | undefined, name: string): LiveResult | undefined {
  return run?.live.find((l) => l.name === name);
}

async function plots(doc: BenchDocument): Promise<string[]> {
  mkdirSync(PLOTS_DIR, { recursive: true });
  for (const f of readdirSync(PLOTS_DIR)) if (f.endsWith('.png')) rmSync(path.join(PLOTS_DIR, f));
  const made: string[] = [];
  const runs = doc.results.pipeline?.runs ?? [];
  const phaseOrder = [...new Set(runs.flatMap((r) => r.live.map((l) => l.name)))];
  const color = {
    field: 'system',
    type: 'nominal',
    title: null,
    scale: { domain: ['cdc-cache', 'Debezium Server'], range: ['#d62728', '#1f77b4'] },
  };

  // 1. Latency histograms per live phase (share of events per bin, log x axis).
  const histRows = runs.flatMap((run) =>
    run.live.flatMap((live) => {
      const total = live.histogram.reduce((a, b) => a + b.count, 0) || 1;
      return live.histogram
        .filter((b) => b.count > 0)
        .map((b) => ({
          system: SYSTEM_NAMES[run.system],
          phase: live.name,
          from: Math.max(b.from, 0.25),
          to: b.to,
          share: (100 * b.count) / total,
        }));
    }),
  );
  if (histRows.length > 0) {
    await renderPng(
      {
        title: 'Commit -> received by the consumer: latency histograms (share of events per bin)',
        data: { values: histRows },
        facet: {
          row: {
            field: 'phase',
            type: 'nominal',
            title: null,
            sort: phaseOrder,
            header: { labelFontSize: 13, labelAngle: 0, labelAlign: 'left' },
          },
        },
        spec: {
          width: 760,
          height: 130,
          mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
          encoding: {
            x: {
              field: 'from',
              type: 'quantitative',
              scale: { type: 'log' },
              title: 'latency, ms (log scale)',
            },
            y: { field: 'share', type: 'quantitative', title: '% of events' },
            color,
          },
        },
        resolve: { scale: { y: 'independent' } },
      },
      path.join(PLOTS_DIR, 'latency-histograms.png'),
    );
    made.push('latency-histograms.png');
  }

  // 2. Latency percentiles per phase.
  const pctRows = runs.flatMap((run) =>
    run.live.flatMap((live) =>
      (['p50', 'p95', 'p99'] as const).map((p) => ({
        system: SYSTEM_NAMES[run.system],
        phase: live.name,
        percentile: p,
        ms: Math.max(live.latencyMs[p], 0.1),
      })),
    ),
  );
  if (pctRows.length > 0) {
    await renderPng(
      {
        title: 'Commit -> received latency percentiles by offered load',
        data: { values: pctRows },
        facet: {
          column: {
            field: 'phase',
            type: 'nominal',
            title: null,
            sort: phaseOrder,
            header: { labelFontSize: 12 },
          },
        },
        spec: {
          width: 150,
          height: 260,
          mark: 'bar',
          encoding: {
            x: { field: 'percentile', type: 'nominal', title: null, axis: { labelAngle: 0 } },
            xOffset: { field: 'system' },
            y: {
              field: 'ms',
              type: 'quantitative',
              scale: { type: 'log', domainMin: 0.5 },
              title: 'ms (log scale)',
            },
            y2: { datum: 0.5 },
            color,
          },
        },
      },
      path.join(PLOTS_DIR, 'latency-percentiles.png'),
    );
    made.push('latency-percentiles.png');
  }

  // 3. Throughput over time while draining the backlog.
  const drainRows = runs.flatMap((run) =>
    (run.drain?.timeline ?? []).map((p) => ({
      system: SYSTEM_NAMES[run.system],
      t: p.t,
      perSecond: p.perSecond,
    })),
  );
  if (drainRows.length > 0) {
    await renderPng(
      {
        title:
          'Throughput over time: draining the same backlog (warm-up first, then update, mixed, large, TPC-B)',
        width: 760,
        height: 300,
        data: { values: drainRows },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'seconds since the first event' },
          y: { field: 'perSecond', type: 'quantitative', title: 'changes/s received (250 ms buckets)' },
          color,
        },
      },
      path.join(PLOTS_DIR, 'drain-throughput.png'),
    );
    made.push('drain-throughput.png');
  }

  // 4. Throughput over time in the live phases.
  const liveRows = runs.flatMap((run) =>
    run.live.flatMap((live) =>
      live.timeline.map((p) => ({
        system: SYSTEM_NAMES[run.system],
        phase: live.name,
        t: p.t,
        perSecond: p.perSecond,
      })),
    ),
  );
  if (liveRows.length > 0) {
    await renderPng(
      {
        title: 'Throughput over time under live load (changes/s received, 250 ms buckets)',
        data: { values: liveRows },
        facet: {
          row: {
            field: 'phase',
            type: 'nominal',
            title: null,
            sort: phaseOrder,
            header: { labelFontSize: 13, labelAngle: 0, labelAlign: 'left' },
          },
        },
        spec: {
          width: 760,
          height: 120,
          mark: { type: 'line', interpolate: 'step-after' },
          encoding: {
            x: { field: 't', type: 'quantitative', title: 'seconds since the load started' },
            y: { field: 'perSecond', type: 'quantitative', title: 'changes/s' },
            color,
          },
        },
        resolve: { scale: { y: 'independent' } },
      },
      path.join(PLOTS_DIR, 'live-throughput.png'),
    );
    made.push('live-throughput.png');
  }

  // 5. Changes/s per workload (drain) side by side.
  const barRows = runs.flatMap((run) =>
    Object.entries(run.drain?.perWorkload ?? {}).map(([w, f]) => ({
      system: SYSTEM_NAMES[run.system],
      workload: WORKLOAD_TITLES[w as WorkloadName] ?? w,
      perSecond: f?.changesPerSec ?? 0,
    })),
  );
  if (barRows.length > 0) {
    await renderPng(
      {
        title: 'PG -> Kafka changes/s by workload (backlog drain)',
        width: 640,
        height: 260,
        data: { values: barRows },
        mark: 'bar',
        encoding: {
          y: { field: 'workload', type: 'nominal', title: null, axis: { labelLimit: 400 } },
          yOffset: { field: 'system' },
          x: { field: 'perSecond', type: 'quantitative', title: 'changes/s' },
          color,
        },
      },
      path.join(PLOTS_DIR, 'throughput-by-workload.png'),
    );
    made.push('throughput-by-workload.png');
  }

  // 6. Memory over the run.
  const memRows = runs.flatMap((run) =>
    run.rss.samples.map((s) => ({ system: SYSTEM_NAMES[run.system], t: s.t, mib: s.mib })),
  );
  if (memRows.length > 0) {
    await renderPng(
      {
        title: 'Resident memory (RSS) of each system over its run',
        width: 760,
        height: 260,
        data: { values: memRows },
        mark: 'line',
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'seconds since the process started' },
          y: { field: 'mib', type: 'quantitative', title: 'RSS, MiB' },
          color,
        },
      },
      path.join(PLOTS_DIR, 'memory.png'),
    );
    made.push('memory.png');
  }

  // 7. Commit -> cache op histograms (the cache-invalidator's own buckets), when measured.
  const inv = doc.results.invalidator;
  if (inv && !('skipped' in inv) && inv.loads.length > 0) {
    const rows = inv.loads.flatMap((load) =>
      Object.entries(load.latencyMs).flatMap(([store, l]) =>
        l.buckets
          .filter((b) => Number.isFinite(b.leMs))
          .map((b) => ({
            store,
            load: load.offeredTps === null ? 'max' : `${fmt(load.offeredTps)}/s`,
            le: b.leMs < 1000 ? `${b.leMs} ms` : `${b.leMs / 1000} s`,
            order: b.leMs,
            count: b.count,
          })),
      ),
    );
    await renderPng(
      {
        title: 'Commit -> cache op acknowledged (cache-invalidator histogram buckets)',
        data: { values: rows },
        facet: {
          row: { field: 'load', type: 'nominal', title: 'offered load' },
          column: { field: 'store', type: 'nominal', title: null },
        },
        spec: {
          width: 360,
          height: 120,
          mark: 'bar',
          encoding: {
            x: {
              field: 'le',
              type: 'ordinal',
              sort: { field: 'order' },
              title: 'bucket upper bound',
              axis: { labelAngle: -40 },
            },
            y: { field: 'count', type: 'quantitative', title: 'ops' },
            color: { value: '#d62728' },
          },
        },
        resolve: { scale: { y: 'independent' } },
      },
      path.join(PLOTS_DIR, 'cache-latency.png'),
    );
    made.push('cache-latency.png');
  }
  return made;
}

function reportMarkdown(doc: BenchDocument, file: string, made: string[]): string {
  const cdc = runOf(doc, 'cdc');
  const dbz = runOf(doc, 'debezium');
  const snap = doc.results.snapshot ?? [];
  const snapOf = (s: string) => snap.find((r) => r.system === s);
  const lines: string[] = [];
  const push = (...l: string[]) => lines.push(...l);
  const slowPhase = cdc?.live.find((l) => l.offeredTps === 1_000)?.name ?? cdc?.live[0]?.name ?? '';

  push(
    '# cdc-cache benchmark report',
    '',
    `Generated from \`bench/results/${file}\` (${doc.mode} mode, started ${doc.startedAt}, ${fmt(doc.durationSeconds)} s).`,
    'Regenerate with `npm run bench -- --quick` (or `npm run bench` for the full run); `npm run bench -- --report-only`',
    're-renders this file and the plots from the latest results. How it is measured: [README.md](README.md).',
    '',
    '## Machine and versions',
    '',
    `- Machine: ${doc.machine.cpus} cores (${doc.machine.cpuModel}), ${fmt(doc.machine.memoryGiB, 1)} GiB memory, ${doc.machine.os}.`,
    `- Load average (1/5/15 min) at start ${doc.machine.loadAverageAtStart.join(' / ')}, at end ${doc.machine.loadAverageAtEnd.join(' / ')}.`,
    '  The box is shared with other work (test suites of other sessions); every figure below competes with that load.',
    `- Working tree at commit \`${doc.gitCommit}\`. Versions:`,
    '',
    table(
      ['component', 'version'],
      Object.entries(doc.versions).map(([k, v]) => [k, v]),
      ['l', 'l'],
    ),
    '',
  );

  if (cdc || dbz) {
    const cu = cdc?.drain?.perWorkload.update;
    const du = dbz?.drain?.perWorkload.update;
    const cl = liveOf(cdc, slowPhase);
    const dl = liveOf(dbz, slowPhase);
    push(
      '## Headline: PG -> Kafka, cdc-cache vs Debezium Server, same run, same machine',
      '',
      'Both systems captured the identical workload on the same database, one after the other, and the same',
      'consumer measured both (see [Method](#method)). Ratio = cdc-cache / Debezium for throughput and',
      'Debezium / cdc-cache for latency and memory (above 1 means cdc-cache is better).',
      '',
      table(
        ['measure', 'cdc-cache', 'Debezium Server', 'ratio'],
        [
          [
            'changes/s, single-table update (backlog drain)',
            fmt(cu?.changesPerSec),
            fmt(du?.changesPerSec),
            ratio(cu?.changesPerSec, du?.changesPerSec),
          ],
          [
            'changes/s, all four workloads (backlog drain)',
            fmt(cdc?.drain?.changesPerSec),
            fmt(dbz?.drain?.changesPerSec),
            ratio(cdc?.drain?.changesPerSec, dbz?.drain?.changesPerSec),
          ],
          [
            `commit -> Kafka p50, ${slowPhase}`,
            `${ms(cl?.latencyMs.p50)} ms`,
            `${ms(dl?.latencyMs.p50)} ms`,
            ratio(dl?.latencyMs.p50, cl?.latencyMs.p50),
          ],
          [
            `commit -> Kafka p95, ${slowPhase}`,
            `${ms(cl?.latencyMs.p95)} ms`,
            `${ms(dl?.latencyMs.p95)} ms`,
            ratio(dl?.latencyMs.p95, cl?.latencyMs.p95),
          ],
          [
            `commit -> Kafka p99, ${slowPhase}`,
            `${ms(cl?.latencyMs.p99)} ms`,
            `${ms(dl?.latencyMs.p99)} ms`,
            ratio(dl?.latencyMs.p99, cl?.latencyMs.p99),
          ],
          [
            'initial snapshot rows/s',
            fmt(snapOf('cdc')?.rowsPerSec),
            fmt(snapOf('debezium')?.rowsPerSec),
            ratio(snapOf('cdc')?.rowsPerSec, snapOf('debezium')?.rowsPerSec),
          ],
          [
            'CPU per 1000 changes (drain)',
            `${fmt(cdc?.drain?.cpu?.msPer1kChanges)} ms`,
            `${fmt(dbz?.drain?.cpu?.msPer1kChanges)} ms`,
            ratio(dbz?.drain?.cpu?.msPer1kChanges, cdc?.drain?.cpu?.msPer1kChanges),
          ],
          [
            'RSS at steady state',
            `${fmt(cdc?.rss.steadyMiB)} MiB`,
            `${fmt(dbz?.rss.steadyMiB)} MiB`,
            ratio(dbz?.rss.steadyMiB, cdc?.rss.steadyMiB),
          ],
        ],
      ),
      '',
      ...(doc.mode === 'quick'
        ? [
            '**Quick mode:** loads of a few seconds on a small backlog. Debezium runs on the JVM, which is still',
            'compiling (JIT) during much of that window, and single seconds of a shared 2-core box swing by tens of',
            'percent: treat these figures as a smoke test and use the full run (`npm run bench`) for the comparison.',
            '',
          ]
        : []),
      `Goal (design.md): PG -> Kafka changes/s >= 3x Debezium Server. This run: ${ratio(cu?.changesPerSec, du?.changesPerSec)} on the single-table update load, ${ratio(cdc?.drain?.changesPerSec, dbz?.drain?.changesPerSec)} over all workloads.`,
      '',
    );
    if (made.includes('throughput-by-workload.png'))
      push('![changes/s by workload](plots/throughput-by-workload.png)', '');
  }

  if (doc.results.pipeline) {
    const { backlog, order } = doc.results.pipeline;
    push(
      '## Throughput: draining the same backlog',
      '',
      `Order: ${order}. Backlog written with pgbench (seed ${doc.plan.seed}, ${doc.plan.backlogClients} clients) while neither system ran;`,
      `${fmt(backlog.warmupChanges)} warm-up updates come first and are not counted.`,
      '',
      table(
        [
          'workload',
          'transactions',
          'row changes',
          'cdc-cache changes/s',
          'Debezium changes/s',
          'ratio',
          'cdc-cache tx/s',
          'Debezium tx/s',
        ],
        backlog.workloads.map((w) => {
          const c = cdc?.drain?.perWorkload[w.workload];
          const d = dbz?.drain?.perWorkload[w.workload];
          return [
            WORKLOAD_TITLES[w.workload],
            fmt(w.transactions),
            fmt(w.totalChanges),
            fmt(c?.changesPerSec),
            fmt(d?.changesPerSec),
            ratio(c?.changesPerSec, d?.changesPerSec),
            fmt(c?.transactionsPerSec),
            fmt(d?.transactionsPerSec),
          ];
        }),
      ),
      '',
      table(
        ['system', 'events', 'seconds', 'changes/s', 'start to first event', 'CPU (of one core)', 'complete'],
        [cdc, dbz]
          .filter((r): r is SystemRun => r !== undefined)
          .map((r) => [
            r.label,
            fmt(r.drain?.events),
            fmt(r.drain?.seconds, 2),
            fmt(r.drain?.changesPerSec),
            `${fmt(r.startSeconds, 1)} s`,
            r.drain?.cpu ? `${r.drain.cpu.percentOfCore} %` : '–',
            r.drain?.complete ? 'yes' : `**no** (${fmt(r.drain?.events)} of ${fmt(r.drain?.expected)})`,
          ]),
      ),
      '',
    );
    if (made.includes('drain-throughput.png'))
      push('![throughput over time, drain](plots/drain-throughput.png)', '');

    push(
      '## Latency under live load: commit -> Kafka',
      '',
      'pgbench offers each load with synchronous_commit=on; latency = time the consumer received the event minus',
      "the transaction's commit time (`source.commitTime` / `source.ts_ms`). CreateTime = the Kafka record timestamp",
      'set by the producer, minus the commit time (a lower bound: it is taken before the acknowledgement).',
      '',
      table(
        [
          'load',
          'system',
          'pgbench tx/s',
          'changes/s',
          'p50 ms',
          'p95 ms',
          'p99 ms',
          'max ms',
          'CreateTime p50 / p99',
          'events',
        ],
        (cdc?.live ?? []).flatMap((l) =>
          [cdc, dbz]
            .map((r) => (r ? { r, live: liveOf(r, l.name) } : null))
            .filter((x): x is { r: SystemRun; live: LiveResult } => x?.live !== undefined)
            .map(({ r, live }) => [
              live.name,
              SYSTEM_NAMES[r.system] ?? r.system,
              fmt(live.pgbench.reduce((a, p) => a + p.tps, 0) / Math.max(1, live.pgbench.length)),
              fmt(live.changesPerSec),
              ms(live.latencyMs.p50),
              ms(live.latencyMs.p95),
              ms(live.latencyMs.p99),
              ms(live.latencyMs.max),
              `${ms(live.createTimeLatencyMs.p50)} / ${ms(live.createTimeLatencyMs.p99)}`,
              live.complete ? fmt(live.events) : `**${fmt(live.events)} of ${fmt(live.expected)}**`,
            ]),
        ),
        ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      'When a system cannot keep up with the offered load its latency grows with the queue it builds: the p50 of',
      'such a phase is a backlog, not a per-event cost.',
      '',
    );
    for (const plot of ['latency-histograms.png', 'latency-percentiles.png', 'live-throughput.png']) {
      if (made.includes(plot)) push(`![${plot.replace('.png', '')}](plots/${plot})`, '');
    }
  }

  if (snap.length > 0) {
    push(
      `## Initial snapshot (${fmt(snap[0]!.rows)} rows)`,
      '',
      'A new slot per system reads all of `snap.accounts` (about 120 bytes per row); rows/s from the first to the last',
      'row received by the same consumer.',
      '',
      table(
        [
          'system',
          'rows received',
          'seconds',
          'rows/s',
          'process start to last row',
          'CPU seconds',
          'max RSS',
          'self-reported',
        ],
        snap.map((s) => [
          s.label,
          s.complete ? fmt(s.events) : `**${fmt(s.events)} of ${fmt(s.rows)}**`,
          fmt(s.seconds, 2),
          fmt(s.rowsPerSec),
          `${fmt(s.wallSeconds, 1)} s`,
          fmt(s.cpuSeconds, 1),
          `${fmt(s.rssMaxMiB)} MiB`,
          s.selfReported ? `\`${JSON.stringify(s.selfReported)}\`` : '–',
        ]),
      ),
      '',
    );
  }

  if (cdc || dbz) {
    push(
      '## Memory',
      '',
      'RSS of each process (from /proc), sampled every 500 ms; steady state = median during the 5k/s phase.',
      '',
      table(
        ['process', 'steady RSS', 'max RSS'],
        [cdc, dbz]
          .filter((r): r is SystemRun => r !== undefined)
          .map((r) => [r.label, `${fmt(r.rss.steadyMiB)} MiB`, `${fmt(r.rss.maxMiB)} MiB`]),
      ),
      '',
      (() => {
        const inv = doc.results.invalidator;
        return inv && !('skipped' in inv) && inv.rssMiB !== null
          ? `cache-invalidator: ${fmt(inv.rssMiB)} MiB (median during its 5k/s load). search-indexer and read-api: not measured yet.`
          : 'cache-invalidator, search-indexer and read-api RSS: not measured in this run (their hooks are below).';
      })(),
      '',
    );
    if (made.includes('memory.png')) push('![memory](plots/memory.png)', '');
  }

  push('## Cache invalidation: commit -> cache op acknowledged', '');
  const inv = doc.results.invalidator;
  if (!inv) push('Not run in this run.', '');
  else if ('skipped' in inv) push(`Skipped: ${inv.reason}.`, '');
  else {
    push(
      "Through the cdc-worker and the cache-invalidator (rule: `counter:{id}` refreshed in Redis, evicted in Memcached); latency from the invalidator's",
      '`cdc_cache_end_to_end_seconds` histogram (interpolated inside its buckets, so coarse). Goal: p99 <= 25 ms at 5k changes/s.',
      '',
      table(
        [
          'offered load',
          'changes',
          'Redis p50 / p95 / p99 ms',
          'Memcached p50 / p95 / p99 ms',
          'cache ops/s',
        ],
        inv.loads.map((l) => [
          l.offeredTps === null ? 'max' : `${fmt(l.offeredTps)}/s`,
          `${fmt(l.consumed)} of ${fmt(l.changes)}`,
          `${ms(l.latencyMs.redis?.p50)} / ${ms(l.latencyMs.redis?.p95)} / ${ms(l.latencyMs.redis?.p99)}`,
          `${ms(l.latencyMs.memcached?.p50)} / ${ms(l.latencyMs.memcached?.p95)} / ${ms(l.latencyMs.memcached?.p99)}`,
          fmt(l.cacheOpsPerSec),
        ]),
      ),
      '',
    );
    if (inv.errors.length > 0)
      push(`Errors: ${inv.errors.map((e) => `\`${e.split('\n')[0]}\``).join('; ')}`, '');
    if (made.includes('cache-latency.png')) push('![cache latency](plots/cache-latency.png)', '');
  }

  push('## Invalidator cache ops/s vs the redis-benchmark ceiling', '');
  const rc = doc.results.redisCeiling;
  if (rc && !('error' in rc)) {
    const drain = inv && !('skipped' in inv) ? inv.drain : null;
    push(
      table(
        ['what', 'ops/s', 'p50 ms', 'p99 ms'],
        [
          ...rc.map((r) => [
            `redis-benchmark ${r.op}, ${r.clients} clients, pipeline ${r.pipeline}`,
            fmt(r.opsPerSec),
            ms(r.p50Ms),
            ms(r.p99Ms),
          ]),
          ...(drain
            ? [
                [
                  `cache-invalidator draining ${fmt(drain.changes)} changes: Redis ops (all stores: ${fmt(drain.cacheOpsPerSec)})`,
                  fmt(drain.redisOpsPerSec),
                  '–',
                  '–',
                ],
              ]
            : [
                [
                  'cache-invalidator',
                  inv && 'skipped' in inv ? `skipped: ${inv.reason}` : 'not measured',
                  '–',
                  '–',
                ],
              ]),
        ],
      ),
      '',
    );
  } else push(rc ? `redis-benchmark failed: ${rc.error}` : 'Not run in this run.', '');

  push('## NGINX hit path (wrk)', '');
  const nginx = doc.results.nginx;
  if (nginx && !('error' in nginx.bare)) {
    push(
      `The bench's own nginx (${nginx.bare.nginxVersion}, 2 workers) on the same box as wrk (2 threads); a 1 KB JSON value in Memcached.`,
      '',
      table(
        ['target', 'connections', 'requests/s', 'p50 ms', 'p90 ms', 'p99 ms', 'non-2xx'],
        nginx.bare.results.map((r) => [
          r.target,
          fmt(r.connections),
          fmt(r.requestsPerSec),
          ms(r.latencyMs.p50),
          ms(r.latencyMs.p90),
          ms(r.latencyMs.p99),
          fmt(r.non2xx),
        ]),
      ),
      '',
      `cdc-cache hit path (deploy/nginx): skipped: ${nginx.product.reason}.`,
      '',
    );
  } else push(nginx ? `wrk failed: ${(nginx.bare as { error: string }).error}` : 'Not run in this run.', '');

  push('## Thundering herd', '');
  const herd = doc.results.herd;
  push(herd ? `Skipped: ${herd.reason}.` : 'Not run in this run.', '');

  if (doc.errors.length > 0)
    push('', '## Errors in this run', '', ...doc.errors.map((e) => `- \`${e.split('\n')[0]}\``), '');

  push(
    '',
    '## Method',
    '',
    '- **Same run, same database, same consumer.** One PostgreSQL database per run (a fresh slate), one measuring',
    '  consumer (packages/kafka on @platformatic/kafka, a consumer group subscribed to every topic before any change',
    '  is written). It reads the commit time from each event: cdc v1 `source.commitTime`, Debezium `source.ts_ms`',
    "  (both PostgreSQL's commit timestamp cut to the millisecond) and takes the time its handler receives the",
    '  message. A consumer sees a message only once Kafka acknowledged it (below the high watermark), so',
    '  commit -> received is an upper bound of commit -> Kafka-acknowledged, including one fetch.',
    '- **Throughput = draining an identical backlog.** Both replication slots are created first; pgbench then writes',
    '  every workload (seeded) while neither system runs, so both slots hold the very same WAL. Each system is then',
    '  started in turn and drains it; changes/s = events / (last receipt - first receipt), warm-up excluded. This',
    '  measures the pipeline, not the load generator.',
    '- **Latency = live load.** Each system then runs alone while pgbench offers a fixed load to its own copy of the',
    "  tables (schemas live_cdc / live_dbz: same script, same seed), so one system never inherits the other's live",
    '  load as a backlog. Sequential rather than simultaneous: on 2 cores two CDC processes would mostly measure',
    '  each other.',
    '- **Workloads** (bench/workloads/*.sql, pgbench): single-table update (1 row per transaction); mixed',
    '  insert/update/delete over users, orders, order_lines (1-4 changes per transaction); large rows (2 KB body',
    "  stored out of line, half the updates leave it unchanged); pgbench's TPC-B (tpcb-like: 3 updates + 1 insert);",
    '  bursts of updates. The number of row changes of each load comes from pg_stat_user_tables.',
    '- **Debezium Server configuration** (bench/src/systems/debezium.ts): Kafka sink with acks=all and idempotence,',
    '  pgoutput, its own slot and publication, offsets in a file flushed after every batch (so it confirms an LSN to',
    '  PostgreSQL only after Kafka acknowledged, like the cdc-worker), JSON without schemas, no tombstones,',
    '  poll.interval.ms=10 (the default 500 adds up to half a second at low load), producer batch.size 256 KiB.',
    '- **Memory and CPU** from /proc of each process (RSS; user + system CPU time).',
    '',
  );
  return `${lines.join('\n')}\n`;
}

export async function writeReport(): Promise<void> {
  const { file, doc } = latestResults();
  progress(`report: rendering plots and REPORT.md from results/${file}`);
  const made = await plots(doc);
  writeFileSync(REPORT_FILE, reportMarkdown(doc, file, made));
  progress(
    `report: wrote ${path.relative(process.cwd(), REPORT_FILE)} and ${made.length} plots in ${path.relative(BENCH_DIR, PLOTS_DIR)}/`,
  );
}
