import { round } from './log.js';

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function summarize(values: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(percentile(sorted, 100)),
    mean: sorted.length === 0 ? Number.NaN : round(sum / sorted.length),
  };
}

export interface HistogramBin {
  /** Lower bound of the bin, in the values' unit. */
  from: number;
  to: number;
  count: number;
}

/**
 * A histogram with logarithmic bins (so 1 ms and 500 ms are both readable): `perDecade`
 * bins per factor of 10, from `min` up to the largest value.
 */
export function logHistogram(values: readonly number[], min = 0.5, perDecade = 10): HistogramBin[] {
  if (values.length === 0) return [];
  let max = min;
  for (const v of values) if (v > max) max = v;
  const step = 10 ** (1 / perDecade);
  const edges: number[] = [0, min];
  while (edges[edges.length - 1]! < max) edges.push(round(edges[edges.length - 1]! * step, 3));
  const counts = new Array<number>(edges.length - 1).fill(0);
  const logMin = Math.log10(min);
  for (const v of values) {
    const index =
      v < min ? 0 : Math.min(counts.length - 1, 1 + Math.floor((Math.log10(v) - logMin) * perDecade));
    counts[index]!++;
  }
  return counts.map((count, i) => ({ from: edges[i]!, to: edges[i + 1]!, count }));
}

export interface TimelinePoint {
  /** Seconds since the start of the phase (start of the bucket). */
  t: number;
  perSecond: number;
}

/** Events per second in buckets of `bucketMs`, from `startMs` (absolute ms) to the last event. */
export function timeline(times: readonly number[], startMs: number, bucketMs = 250): TimelinePoint[] {
  if (times.length === 0) return [];
  let last = startMs;
  for (const t of times) if (t > last) last = t;
  const buckets = new Array<number>(Math.floor((last - startMs) / bucketMs) + 1).fill(0);
  for (const t of times) {
    const index = Math.floor((t - startMs) / bucketMs);
    if (index >= 0) buckets[index]!++;
  }
  return buckets.map((count, i) => ({
    t: round((i * bucketMs) / 1000, 3),
    perSecond: Math.round((count * 1000) / bucketMs),
  }));
}
