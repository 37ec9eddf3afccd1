// How many checkpoints an error corrupts before it is detected. The engine
// keeps checkpointing while an error is latent, and every checkpoint taken
// then holds the error; the rollback must reach one taken before it.

/** P(latency > x) for an Erlang latency with `shape` phases and this mean; a zero mean is no latency. */
export function latencySurvival(x: number, meanMs: number, shape: number): number {
  if (meanMs === 0) return x < 0 ? 1 : 0;
  if (x <= 0) return 1;
  const rate = shape / meanMs;
  // e^-rx * sum_{r<shape} (rx)^r / r!, term by term.
  let term = Math.exp(-rate * x);
  let sum = term;
  for (let r = 1; r < shape; r++) {
    term *= (rate * x) / r;
    sum += term;
  }
  return Math.min(1, sum);
}

export interface CorruptionOutlook {
  /** P(no checkpoint was taken before detection): the newest checkpoint is clean. */
  noneCorrupted: number;
  /** P(all K retained checkpoints were taken after the error): nothing clean is left. */
  allCorrupted: number;
  /** E[corrupted checkpoints; only when some clean one is left], i.e. E[j; j < K]. */
  expectedCorruptedWhenRecoverable: number;
}

export interface CorruptionInputs {
  intervalMs: number;
  /** Guest time one checkpoint takes; while an error is latent, checkpoints come every interval + this. */
  checkpointCostMs: number;
  retention: number;
  detectionLatencyMs: number;
  latencyShape: number;
  /** Errors per ms of execution: where in the interval an error lands (earlier is likelier). */
  errorRatePerMs: number;
}

/** Slices of the interval over which the error's position is averaged, near its end and in the rest. */
const slicesNearEnd = 48;
const slicesElsewhere = 16;
/** Tail probabilities below this are treated as zero. */
const negligible = 1e-18;

/**
 * Midpoint slices of the time u from the error to the next checkpoint,
 * 0..interval. With a latency short against the interval only errors in the
 * last few latencies of it corrupt a checkpoint, so those get most slices.
 */
function timesToNextCheckpoint(intervalMs: number, detectionLatencyMs: number): { untilCheckpointMs: number; widthMs: number }[] {
  const nearEnd = Math.min(intervalMs, 10 * detectionLatencyMs) || intervalMs;
  const slices: { untilCheckpointMs: number; widthMs: number }[] = [];
  const fill = (from: number, to: number, count: number) => {
    const width = (to - from) / count;
    for (let i = 0; i < count; i++) slices.push({ untilCheckpointMs: from + (i + 0.5) * width, widthMs: width });
  };
  fill(0, nearEnd, slicesNearEnd);
  if (nearEnd < intervalMs) fill(nearEnd, intervalMs, slicesElsewhere);
  return slices;
}

export function corruptionOutlook(inputs: CorruptionInputs): CorruptionOutlook {
  const { intervalMs, checkpointCostMs, retention, detectionLatencyMs, latencyShape, errorRatePerMs } = inputs;
  const cycleMs = intervalMs + checkpointCostMs;
  let weightSum = 0;
  let noneCorrupted = 0;
  let allCorrupted = 0;
  let expectedCorruptedWhenRecoverable = 0;
  for (const { untilCheckpointMs, widthMs } of timesToNextCheckpoint(intervalMs, detectionLatencyMs)) {
    // Errors strike at a constant rate while running, so an early age (a long wait to the checkpoint) is likelier.
    const weight = widthMs * Math.exp(-errorRatePerMs * (intervalMs - untilCheckpointMs));
    weightSum += weight;
    const atLeast = (k: number) => latencySurvival(untilCheckpointMs + (k - 1) * cycleMs, detectionLatencyMs, latencyShape);
    const atLeastOne = atLeast(1);
    const atLeastAll = atLeast(retention);
    let sumAtLeast = 0;
    if (atLeastAll >= 1 - Number.EPSILON) {
      // Detection certainly comes after all K: every term of the sum is 1.
      sumAtLeast = retention - 1;
    } else {
      for (let k = 1; k < retention; k++) {
        const p = atLeast(k);
        if (p < negligible) break;
        sumAtLeast += p;
      }
    }
    noneCorrupted += weight * (1 - atLeastOne);
    allCorrupted += weight * atLeastAll;
    expectedCorruptedWhenRecoverable += weight * (sumAtLeast - (retention - 1) * atLeastAll);
  }
  return {
    noneCorrupted: noneCorrupted / weightSum,
    allCorrupted: allCorrupted / weightSum,
    expectedCorruptedWhenRecoverable: Math.max(0, expectedCorruptedWhenRecoverable / weightSum),
  };
}
