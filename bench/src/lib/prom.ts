/** Reading Prometheus text metrics of our services (histograms and counters), for the bench hooks. */

export type Samples = { name: string; labels: Record<string, string>; value: number }[];

export async function scrape(port: number): Promise<Samples> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return out;
}

/** Sum of a metric's samples whose labels include `match`. */
export function sum(samples: Samples, name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

/** Cumulative bucket counts of a histogram (le in seconds -> count), summed over other labels. */
export function buckets(
  samples: Samples,
  name: string,
  match: Record<string, string> = {},
): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}

/**
 * A percentile (ms) from the difference of two cumulative histograms, interpolating linearly
 * inside the bucket as Prometheus' histogram_quantile does.
 */
export function histogramPercentile(
  before: Map<number, number>,
  after: Map<number, number>,
  p: number,
): number | null {
  const les = [...after.keys()].sort((a, b) => a - b);
  const counts = les.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = (p / 100) * total;
  let previousLe = 0;
  let previousCount = 0;
  for (let i = 0; i < les.length; i++) {
    const le = les[i]!;
    const count = counts[i]!;
    if (count >= rank) {
      if (!Number.isFinite(le)) return previousLe * 1000;
      const inBucket = count - previousCount;
      const fraction = inBucket > 0 ? (rank - previousCount) / inBucket : 1;
      return Math.round((previousLe + (le - previousLe) * fraction) * 1000 * 100) / 100;
    }
    previousLe = le;
    previousCount = count;
  }
  return null;
}

/** Bucketed counts (non-cumulative) between two scrapes, for plots: [le ms, count]. */
export function bucketDeltas(
  before: Map<number, number>,
  after: Map<number, number>,
): { leMs: number; count: number }[] {
  const les = [...after.keys()].sort((a, b) => a - b);
  let previous = 0;
  return les.map((le) => {
    const cumulative = (after.get(le) ?? 0) - (before.get(le) ?? 0);
    const count = cumulative - previous;
    previous = cumulative;
    return { leMs: Number.isFinite(le) ? le * 1000 : Number.POSITIVE_INFINITY, count };
  });
}
