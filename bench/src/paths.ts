import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/ */
export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT_DIR = path.resolve(BENCH_DIR, '..');
/** Downloads and scratch files (git-ignored): Debezium Server, nginx run folders, configs. */
export const CACHE_DIR = path.join(BENCH_DIR, '.cache');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
export const PLOTS_DIR = path.join(BENCH_DIR, 'plots');
export const REPORT_FILE = path.join(BENCH_DIR, 'REPORT.md');
export const WORKLOADS_DIR = path.join(BENCH_DIR, 'workloads');
