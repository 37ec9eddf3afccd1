// The project's one percentile definition, nearest rank, so that the
// dashboard's charts, the server's history and the lab's reports agree on
// what a p99 is. Browser-safe: the dashboard imports it too.

/** The p-th percentile (0 < p <= 100) of ascending values: the value at rank ceil(p% of n); 0 for none. */
export function nearestRank(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

/** The median and p99 of a sample in any order; zeros for an empty one. */
export function percentiles(values: readonly number[]): { p50: number; p99: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: nearestRank(sorted, 50), p99: nearestRank(sorted, 99) };
}
