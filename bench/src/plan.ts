/** What a run does, in quick mode (under 3 minutes) and in full mode. Sizes can be overridden. */
import type { SeedSizes, WorkloadName } from './workloads.js';

export interface LivePhase {
  name: string;
  workload: WorkloadName;
  /** Offered transactions per second (pgbench -R); null = as fast as the clients go. */
  rate: number | null;
  seconds: number;
  clients: number;
  /** Bursty load: `count` bursts of `transactions` (as fast as possible), `gapMs` apart. */
  bursts?: { count: number; transactions: number; gapMs: number };
}

export interface RunPlan {
  mode: 'quick' | 'full';
  seed: number;
  partitions: number;
  sizes: SeedSizes;
  /** Backlog both systems drain: transactions of each workload, written before either runs. */
  backlog: { workload: WorkloadName; transactions: number }[];
  backlogClients: number;
  /** Updates each system drains (and is not measured on) before the backlog proper. */
  warmupTransactions: number;
  live: LivePhase[];
  snapshotRows: number;
  /** Fixed offered loads for the commit -> cache-op histogram (changes/s; null = max). */
  cacheLoads: (number | null)[];
  cacheSeconds: number;
  /** Changes the cache-invalidator drains to measure its ops/s. */
  cacheBacklog: number;
  wrkSeconds: number;
  wrkConnections: number;
  redisBenchmarkRequests: number;
}

export function makePlan(mode: 'quick' | 'full', seed: number): RunPlan {
  if (mode === 'quick') {
    return {
      mode,
      seed,
      partitions: 3,
      sizes: { counters: 10_000, users: 5_000, orders: 5_000, documents: 2_000, tpcbScale: 1 },
      backlog: [
        { workload: 'update', transactions: 6_000 },
        { workload: 'mixed', transactions: 2_000 },
        { workload: 'large', transactions: 1_000 },
        { workload: 'tpcb', transactions: 1_000 },
      ],
      backlogClients: 4,
      warmupTransactions: 5_000,
      live: [
        { name: 'update @ 1k/s', workload: 'update', rate: 1_000, seconds: 3, clients: 4 },
        { name: 'update @ 5k/s', workload: 'update', rate: 5_000, seconds: 3, clients: 8 },
        { name: 'update @ max', workload: 'update', rate: null, seconds: 3, clients: 8 },
        {
          name: 'bursts',
          workload: 'burst',
          rate: null,
          seconds: 0,
          clients: 8,
          bursts: { count: 2, transactions: 1_500, gapMs: 1_000 },
        },
      ],
      snapshotRows: 10_000,
      cacheLoads: [1_000, 5_000, null],
      cacheSeconds: 2,
      cacheBacklog: 4_000,
      wrkSeconds: 3,
      wrkConnections: 50,
      redisBenchmarkRequests: 50_000,
    };
  }
  return {
    mode,
    seed,
    partitions: 3,
    sizes: { counters: 100_000, users: 50_000, orders: 50_000, documents: 20_000, tpcbScale: 10 },
    backlog: [
      { workload: 'update', transactions: 200_000 },
      { workload: 'mixed', transactions: 60_000 },
      { workload: 'large', transactions: 30_000 },
      { workload: 'tpcb', transactions: 50_000 },
    ],
    backlogClients: 4,
    warmupTransactions: 40_000,
    live: [
      { name: 'update @ 1k/s', workload: 'update', rate: 1_000, seconds: 20, clients: 4 },
      { name: 'update @ 5k/s', workload: 'update', rate: 5_000, seconds: 20, clients: 8 },
      { name: 'update @ max', workload: 'update', rate: null, seconds: 20, clients: 8 },
      { name: 'mixed @ max', workload: 'mixed', rate: null, seconds: 15, clients: 8 },
      { name: 'large @ max', workload: 'large', rate: null, seconds: 15, clients: 8 },
      { name: 'tpcb @ max', workload: 'tpcb', rate: null, seconds: 15, clients: 8 },
      {
        name: 'bursts',
        workload: 'burst',
        rate: null,
        seconds: 0,
        clients: 8,
        bursts: { count: 10, transactions: 5_000, gapMs: 2_000 },
      },
    ],
    snapshotRows: 1_000_000,
    cacheLoads: [1_000, 5_000, null],
    cacheSeconds: 20,
    cacheBacklog: 100_000,
    wrkSeconds: 15,
    wrkConnections: 100,
    redisBenchmarkRequests: 1_000_000,
  };
}
