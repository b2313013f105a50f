/**
 * Exact nearest-rank percentiles over all samples. A bench cell holds at most
 * a few hundred thousand latencies, so sorting them all is cheap and avoids
 * the bucket error a histogram would add to a p99 we compare against 1.5×.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(samplesMs: readonly number[]): { p50Ms: number; p99Ms: number; maxMs: number } {
  // A typed array sorts numerically (a plain array would sort as strings).
  const sorted = Float64Array.from(samplesMs).sort();
  return {
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
  };
}
