/**
 * The cdc-cache benchmark harness.
 *
 *   npm run bench -- --quick            # under 3 minutes, small sizes
 *   npm run bench                        # full mode (1M-row snapshot, longer loads)
 *   npm run bench -- --report-only       # regenerate bench/REPORT.md from the latest results
 *
 * Options: --name NAME (results file bench/results/<date>-<name>.json; default quick|full),
 * --seed N, --only pipeline,snapshot,cache,redis,nginx,herd (parts to run), --systems cdc,debezium
 * (order = run order), --no-debezium, --no-live, --snapshot-rows N,
 * --debezium-prop key=value (repeatable, for tuning runs), --keep (leave the database and topics).
 *
 * bench/README.md says what is measured and how; the results and REPORT.md say what came out.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createTopicAdmin } from '@cdc-cache/kafka';
import { status as stackStatus } from '@cdc-cache/local-stack';
import { freshSlate, stackAddresses } from '@cdc-cache/testkit';
import { Collector, type SystemName } from './collector.js';
import { cacheInvalidatorBench, productHitPath, thunderingHerd } from './hooks.js';
import { errorText, progress, round } from './lib/log.js';
import { run } from './lib/proc.js';
import { nginxHitPath } from './nginx-hit.js';
import { CACHE_DIR, RESULTS_DIR, ROOT_DIR } from './paths.js';
import {
  BACKLOG_SCHEMA,
  capturedTables,
  LIVE_SCHEMA,
  type PipelineContext,
  prepareReplication,
  runSystem,
  type SystemRun,
  topicOf,
  writeBacklog,
} from './pipeline.js';
import { makePlan } from './plan.js';
import { redisCeiling } from './redis-ceiling.js';
import { BENCHMARK_ID, type BenchDocument } from './results.js';
import { DEBEZIUM_VERSION, javaVersion, setup } from './setup.js';
import { runSnapshot, SNAPSHOT_LABEL, SNAPSHOT_SCHEMA, SNAPSHOT_TABLE } from './snapshot.js';
import { createSnapshotTable, createWarmupSchema, createWorkloadSchema, type PgTarget } from './workloads.js';

const PARTS = ['pipeline', 'snapshot', 'cache', 'redis', 'nginx', 'herd'] as const;
type Part = (typeof PARTS)[number];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    name: { type: 'string' },
    seed: { type: 'string', default: '20261125' },
    only: { type: 'string' },
    systems: { type: 'string' },
    'no-debezium': { type: 'boolean', default: false },
    'no-live': { type: 'boolean', default: false },
    'snapshot-rows': { type: 'string' },
    'debezium-prop': { type: 'string', multiple: true },
    keep: { type: 'boolean', default: false },
    'report-only': { type: 'boolean', default: false },
  },
});

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT_DIR,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: ROOT_DIR,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return 'unknown';
  }
}

async function toolVersion(command: string, args: string[], pattern: RegExp): Promise<string> {
  try {
    const result = await run(command, args, { timeoutMs: 10_000 });
    return pattern.exec(`${result.stdout}\n${result.stderr}`)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  if (args['report-only']) {
    const { writeReport } = await import('./report/report.js');
    await writeReport();
    return;
  }
  const mode = args.quick ? 'quick' : 'full';
  const plan = makePlan(mode, Number(args.seed));
  if (args['snapshot-rows']) plan.snapshotRows = Number(args['snapshot-rows']);
  if (args['no-live']) plan.live = [];
  const parts = new Set<Part>(args.only ? (args.only.split(',') as Part[]) : PARTS);
  const systems: SystemName[] = args.systems
    ? (args.systems.split(',') as SystemName[])
    : args['no-debezium']
      ? ['cdc']
      : ['cdc', 'debezium'];
  const debeziumOverrides = Object.fromEntries(
    (args['debezium-prop'] ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const name = args.name ?? mode;
  const started = new Date();
  const loadAtStart = os.loadavg().map((l) => round(l, 2));
  progress(
    `cdc-cache bench, ${mode} mode, seed ${plan.seed}, parts: ${[...parts].join(', ')}, systems: ${systems.join(' then ')}`,
  );

  // The local stack must be up (npm run stack -- up); its status also gives the server versions.
  const servers = await stackStatus();
  const down = servers.filter((s) => !s.healthy && s.name !== 'elasticsearch' && s.name !== 'prometheus');
  if (down.length > 0) {
    throw new Error(
      `the local stack is not healthy (${down.map((s) => `${s.name}: ${s.detail}`).join('; ')}); start it with  npm run stack -- up`,
    );
  }
  const usesDebezium = systems.includes('debezium') && (parts.has('pipeline') || parts.has('snapshot'));
  const tools = await setup({ debezium: usesDebezium });
  progress('setup: tools ready');

  // Old scratch folders of earlier runs.
  for (const entry of readdirSync(CACHE_DIR)) {
    if (/^(run-debezium|nginx)-/.test(entry))
      rmSync(path.join(CACHE_DIR, entry), { recursive: true, force: true });
  }

  const versions: Record<string, string> = {
    'cdc-cache (cdc-worker, packages/kafka on @platformatic/kafka)': 'this working tree',
    'Debezium Server': `${DEBEZIUM_VERSION} (io.debezium:debezium-server-dist, Kafka sink, pgoutput)`,
    Java: usesDebezium ? javaVersion(tools.java) : 'not used',
    Node: process.version,
    ...Object.fromEntries(servers.filter((s) => s.version).map((s) => [s.name, s.version!])),
    pgbench: await toolVersion(tools.pgbench, ['--version'], /pgbench \(PostgreSQL\) (\S+)/),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} syntax
    wrk: await toolVersion('dpkg-query', ['-W', '-f', '${Version}', 'wrk'], /(\S+)/),
    'redis-benchmark': await toolVersion(tools.redisBenchmark, ['--version'], /redis-benchmark (\S+)/),
  };

  const slate = await freshSlate('bench');
  const target: PgTarget = {
    host: stackAddresses.postgres.host,
    port: stackAddresses.postgres.port,
    user: stackAddresses.postgres.user,
    database: slate.database,
  };
  const brokers = [...stackAddresses.kafka.brokers];
  const admin = createTopicAdmin({ brokers, clientId: 'bench-admin' });
  await admin.connect();
  const results: BenchDocument['results'] = {};
  const errors: string[] = [];
  const topics: string[] = [];
  const attempt = async (what: string, body: () => Promise<void>) => {
    try {
      await body();
    } catch (error) {
      errors.push(`${what}: ${errorText(error)}`);
      progress(`${what} failed: ${errorText(error)}`);
    }
  };
  try {
    const ctx: PipelineContext = {
      tools,
      plan,
      target,
      db: slate.db,
      brokers,
      collector: new Collector({ brokers, clientId: 'bench-collector' }, `${slate.topicPrefix}.probe`),
      names: {
        cdc: {
          topicPrefix: slate.topicPrefix,
          slot: `${slate.slotName}_cdc`,
          publication: `${slate.slotName}_cdc`,
        },
        debezium: {
          topicPrefix: `${slate.topicPrefix}_dbz`,
          slot: `${slate.slotName}_dbz`,
          publication: `${slate.slotName}_dbz`,
        },
      },
      debeziumRunDir: mkdtempSync(path.join(CACHE_DIR, 'run-debezium-')),
      debeziumOverrides,
    };

    if (parts.has('pipeline') || parts.has('snapshot')) {
      progress(`database ${slate.database}: creating and seeding the workload tables`);
      if (parts.has('pipeline')) {
        for (const schema of [BACKLOG_SCHEMA, ...systems.map((s) => LIVE_SCHEMA[s])]) {
          await createWorkloadSchema(slate.db, target, tools.pgbench, schema, plan.sizes);
        }
        await createWarmupSchema(slate.db, plan.sizes.counters);
      }
      if (parts.has('snapshot')) await createSnapshotTable(slate.db, plan.snapshotRows);
      for (const system of systems) {
        const prefix = ctx.names[system].topicPrefix;
        if (parts.has('pipeline')) {
          for (const { schema, table, label } of capturedTables(system)) {
            ctx.collector.route(topicOf(system, prefix, schema, table), system, label);
          }
        }
        if (parts.has('snapshot')) {
          ctx.collector.route(
            topicOf(system, prefix, SNAPSHOT_SCHEMA, SNAPSHOT_TABLE),
            system,
            SNAPSHOT_LABEL,
          );
        }
      }
      topics.push(...ctx.collector.topics());
      await admin.ensureTopics(topics, plan.partitions);
      progress(
        `kafka: ${topics.length} topics of ${plan.partitions} partitions; starting the measuring consumer`,
      );
      await ctx.collector.start();
    }

    if (parts.has('pipeline')) {
      await attempt('pipeline', async () => {
        await prepareReplication(ctx, systems);
        progress('backlog: writing every workload while no CDC system runs (both slots keep the same WAL)');
        const backlog = await writeBacklog(ctx);
        const runs: SystemRun[] = [];
        for (const system of systems) runs.push(await runSystem(ctx, system, backlog));
        results.pipeline = {
          backlog,
          runs,
          order: systems.map((s) => (s === 'cdc' ? 'cdc-cache' : 'Debezium Server')).join(', then '),
        };
        for (const r of runs) errors.push(...r.errors.map((e) => `${r.label}: ${e}`));
      });
    }
    if (parts.has('snapshot')) {
      await attempt('snapshot', async () => {
        results.snapshot = [];
        for (const system of systems)
          results.snapshot.push(await runSnapshot(ctx, system, plan.snapshotRows));
        for (const r of results.snapshot) errors.push(...r.errors.map((e) => `${r.label} snapshot: ${e}`));
      });
    }
    await ctx.collector.stop();

    if (parts.has('cache')) {
      progress('cache-invalidator: commit -> cache op latency and ops/s (hook)');
      await attempt('cache-invalidator', async () => {
        results.invalidator = await cacheInvalidatorBench({
          db: slate.db,
          target,
          pgbench: tools.pgbench,
          plan,
          brokers,
          topicPrefix: slate.topicPrefix,
          slotBase: slate.slotName,
          keyPrefix: slate.keyPrefix,
        });
      });
    }
    if (parts.has('redis')) {
      progress('redis-benchmark: the Redis ceiling');
      try {
        results.redisCeiling = await redisCeiling(
          tools.redisBenchmark,
          slate.keyPrefix,
          plan.redisBenchmarkRequests,
        );
      } catch (error) {
        results.redisCeiling = { error: errorText(error) };
        errors.push(`redis-benchmark: ${errorText(error)}`);
      }
    }
    if (parts.has('nginx')) {
      progress('nginx: hit path with wrk');
      let bare: NonNullable<BenchDocument['results']['nginx']>['bare'];
      try {
        bare = await nginxHitPath(tools, slate.keyPrefix, plan.wrkSeconds, plan.wrkConnections);
      } catch (error) {
        bare = { error: errorText(error) };
        errors.push(`nginx: ${errorText(error)}`);
      }
      results.nginx = { bare, product: productHitPath() };
    }
    if (parts.has('herd')) {
      progress('thundering herd (hook)');
      results.herd = await thunderingHerd();
    }
  } finally {
    if (!args.keep) {
      await admin.deleteTopics(topics).catch((error: unknown) => progress(`cleanup: ${errorText(error)}`));
      await slate.dispose().catch((error: unknown) => progress(`cleanup: ${errorText(error)}`));
    }
    await admin.disconnect().catch(() => undefined);
  }

  const date = started.toISOString().slice(0, 10);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${date}-${name}.json`);
  const document: BenchDocument = {
    benchmark: BENCHMARK_ID,
    name,
    mode,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    durationSeconds: round((Date.now() - started.getTime()) / 1000, 1),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    gitCommit: gitCommit(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: round(os.totalmem() / 2 ** 30, 1),
      os: `${os.type()} ${os.release()}`,
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: os.loadavg().map((l) => round(l, 2)),
    },
    versions,
    plan,
    results,
    errors,
  };
  writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
  progress(`wrote ${path.relative(process.cwd(), file)}`);
  if (results.pipeline) {
    const { writeReport } = await import('./report/report.js');
    await writeReport();
  } else progress('report not regenerated: this run did not include the PG -> Kafka comparison (--only)');
  if (errors.length > 0) progress(`finished with ${errors.length} error(s): see the report`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
