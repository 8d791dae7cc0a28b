/** The shape of bench/results/<date>-<name>.json (what main.ts writes and report.ts reads). */
import type { InvalidatorBench, Skipped } from './hooks.js';
import type { NginxBench } from './nginx-hit.js';
import type { Backlog, SystemRun } from './pipeline.js';
import type { RunPlan } from './plan.js';
import type { RedisCeilingRow } from './redis-ceiling.js';
import type { SnapshotResult } from './snapshot.js';

export const BENCHMARK_ID = 'cdc-cache-bench';

export interface BenchDocument {
  benchmark: typeof BENCHMARK_ID;
  name: string;
  mode: 'quick' | 'full';
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  command: string;
  gitCommit: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    os: string;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  };
  versions: Record<string, string>;
  plan: RunPlan;
  results: {
    pipeline?: { backlog: Backlog; runs: SystemRun[]; order: string };
    snapshot?: SnapshotResult[];
    invalidator?: InvalidatorBench | Skipped;
    redisCeiling?: RedisCeilingRow[] | { error: string };
    nginx?: { bare: NginxBench | { error: string }; product: Skipped };
    herd?: Skipped;
  };
  errors: string[];
}
