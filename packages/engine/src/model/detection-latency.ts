// What recovery costs once an error is detected, under the engine's policy
// (agent/recovery.ts): roll back to the newest checkpoint taken at or before
// detection - the detector's latency bound; if the error recurs, step back
// one checkpoint at a time. The engine keeps checkpointing while an error is
// latent, and every checkpoint taken then holds the error.

/** P(latency > x) for an Erlang latency with `shape` phases and this mean; a zero mean is no latency. */
export function latencySurvival(x: number, meanMs: number, shape: number): number {
  if (meanMs === 0) return x < 0 ? 1 : 0;
  if (x <= 0) return 1;
  const rate = shape / meanMs;
  // A mean so small (a denormal) that rx overflows: the latency is as good as none (else 0 * Infinity = NaN below).
  if (!Number.isFinite(rate * x)) return 0;
  // e^-rx * sum_{r<shape} (rx)^r / r!, term by term.
  let term = Math.exp(-rate * x);
  let sum = term;
  for (let r = 1; r < shape; r++) {
    term *= (rate * x) / r;
    sum += term;
  }
  return Math.min(1, sum);
}

/** One detector as the model sees it: how it catches errors and the bound recovery trusts. */
export interface DetectorClass {
  /** Share of the detected errors this detector catches (the shares sum to 1). */
  share: number;
  /** Mean error-to-detection time, ms. */
  detectionLatencyMs: number;
  /** Erlang phases of that latency (1 = exponential). */
  latencyShape: number;
  /** The latency bound recovery trusts: it rolls back to the newest checkpoint taken at or before detection - this, ms. */
  latencyBoundMs: number;
  /**
   * The detector states a bound from what it saw, which covers the actual
   * latency: each detection's bound is its latency plus the mean margin
   * (latencyBoundMs - detectionLatencyMs). The heartbeat's is the stall it
   * saw plus one progress sample. Otherwise the bound is the same for every
   * detection, whatever its latency (self-check, crash).
   */
  boundFollowsLatency?: boolean;
}

export interface RecoveryOutlook {
  /** P(the first checkpoint chosen predates the error, and the error has not outlasted the retention). */
  cleanFirst: number;
  /** E[committed work thrown away, ms; cleanFirst]: from the chosen checkpoint to the last one before the error. */
  expectedDiscardedMs: number;
  /** P(the first checkpoint chosen holds the error, and an older retained one does not): recurrences, stepping back. */
  recurring: number;
  /** E[recurrences; recurring]: corrupt checkpoints tried before the clean one. */
  expectedRecurrences: number;
  /** P(every retained checkpoint was taken after the error): the recovery fails. */
  exhausted: number;
  /** E[rollbacks tried; exhausted]: from the first checkpoint chosen to the oldest retained. */
  expectedAttemptsWhenExhausted: number;
}

export interface RecoveryInputs {
  intervalMs: number;
  /** Guest time one checkpoint takes; checkpoints come every interval + this. */
  checkpointCostMs: number;
  retention: number;
  /** Errors per ms of execution: where in the interval an error lands (earlier is likelier). */
  errorRatePerMs: number;
  detector: Omit<DetectorClass, 'share'>;
}

/** Slices of the interval over which the error's position is averaged: many near its end and around the bound's step. */
const slicesFine = 48;
const slicesCoarse = 16;
/** Tail probabilities below this are treated as zero. */
const negligible = 1e-18;

/**
 * Midpoint slices of the time u from the error to the next checkpoint,
 * 0..interval. With a latency short against the interval only errors in the
 * last few latencies of it corrupt a checkpoint, so those get most slices;
 * where the bound reaches exactly one checkpoint further back (u = kP - B)
 * the discarded work steps by a cycle, so the slices are cut there too.
 */
function timesToNextCheckpoint(intervalMs: number, cycleMs: number, latencyMs: number, boundMs: number): { untilCheckpointMs: number; widthMs: number }[] {
  const nearEnd = Math.min(intervalMs, 10 * latencyMs) || intervalMs;
  const step = cycleMs > 0 ? Math.ceil(boundMs / cycleMs) * cycleMs - boundMs : 0;
  const cuts = [...new Set([0, nearEnd, intervalMs, ...(step > 0 && step < intervalMs ? [step] : [])])].sort((a, b) => a - b);
  const slices: { untilCheckpointMs: number; widthMs: number }[] = [];
  for (let i = 1; i < cuts.length; i++) {
    const [from, to] = [cuts[i - 1]!, cuts[i]!];
    const count = to <= nearEnd ? slicesFine : slicesCoarse;
    const width = (to - from) / count;
    for (let s = 0; s < count; s++) slices.push({ untilCheckpointMs: from + (s + 0.5) * width, widthMs: width });
  }
  return slices;
}

/**
 * Averages, over where in the interval the error lands and over its
 * latency, what the engine's recovery does. With u the time from the error
 * to the next checkpoint and P = interval + checkpoint cost, checkpoints
 * come at u + mP after the error (m >= 0; all hold it) and at u - mP before
 * it (m >= 1; clean). A latency l leaves j = #{m >= 0: u + mP <= l} corrupt
 * ones among the newest; the bound B excludes the newest whose times fall
 * after detection - B, so the first checkpoint chosen is the newest but
 * idx = min(j - 1 - floor((l - B - u) / P), K - 1). idx >= j: clean, and
 * (idx - j) P of committed work is thrown away. idx < j: j - idx
 * recurrences step back to the newest clean one. j >= K: none is clean.
 */
export function recoveryOutlook(inputs: RecoveryInputs): RecoveryOutlook {
  const { intervalMs, checkpointCostMs, retention, errorRatePerMs } = inputs;
  const { detectionLatencyMs: latency, latencyShape: shape, latencyBoundMs: bound } = inputs.detector;
  const cycle = intervalMs + checkpointCostMs;
  // A bound that follows the latency reaches the same distance before the error, whatever the latency.
  const margin = inputs.detector.boundFollowsLatency ? Math.max(0, bound - latency) : null;
  /** (detection - bound) - error, for a detection after this latency. */
  const reach = (l: number) => (margin === null ? l - bound : -margin);
  const survival = (x: number) => (x <= 0 ? 1 : latencySurvival(x, latency, shape));
  const sum: RecoveryOutlook = { cleanFirst: 0, expectedDiscardedMs: 0, recurring: 0, expectedRecurrences: 0, exhausted: 0, expectedAttemptsWhenExhausted: 0 };
  let weightSum = 0;
  for (const { untilCheckpointMs: u, widthMs } of timesToNextCheckpoint(intervalMs, cycle, latency, bound)) {
    // Errors strike at a constant rate while running, so an early age (a long wait to the checkpoint) is likelier.
    const weight = widthMs * Math.exp(-errorRatePerMs * (intervalMs - u));
    weightSum += weight;
    // Past this latency every retained checkpoint holds the error.
    const allCorruptFrom = u + (retention - 1) * cycle;
    // The latencies at which j or the bound's checkpoint changes: two progressions of step P.
    let nextCorrupt = u;
    let nextBound = margin === null ? (bound + u) % cycle || cycle : Number.POSITIVE_INFINITY;
    let from = 0;
    let survivesFrom = 1;
    while (from < allCorruptFrom && survivesFrom > negligible) {
      const to = Math.min(nextCorrupt, nextBound, allCorruptFrom);
      if (to > from) {
        const survivesTo = survival(to);
        const mass = survivesFrom - survivesTo;
        if (mass > 0) {
          const middle = (from + to) / 2;
          const j = middle < u ? 0 : Math.floor((middle - u) / cycle) + 1;
          const idx = Math.min(j - 1 - Math.floor((reach(middle) - u) / cycle), retention - 1);
          if (idx >= j) {
            sum.cleanFirst += weight * mass;
            sum.expectedDiscardedMs += weight * mass * (idx - j) * cycle;
          } else {
            sum.recurring += weight * mass;
            sum.expectedRecurrences += weight * mass * (j - idx);
          }
        }
        survivesFrom = survivesTo;
        from = to;
      }
      if (to === nextCorrupt) nextCorrupt += cycle;
      if (to === nextBound) nextBound += cycle;
    }
    if (from >= allCorruptFrom && survivesFrom > 0) {
      // The first choice is the bound's checkpoint (on average B / P back from the newest, or the oldest
      // when the bound follows the latency past them all), then every older one.
      const firstChoice = margin === null ? Math.min(bound / cycle, retention - 1) : retention - 1;
      sum.exhausted += weight * survivesFrom;
      sum.expectedAttemptsWhenExhausted += weight * survivesFrom * (retention - firstChoice);
    }
  }
  for (const key of Object.keys(sum) as (keyof RecoveryOutlook)[]) sum[key] /= weightSum;
  return sum;
}
