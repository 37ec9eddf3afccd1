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

/** Slices of the interval over which the error's position is averaged. */
const positionSlices = 64;
/** Tail probabilities below this are treated as zero. */
const negligible = 1e-18;

/**
 * The distribution of j, the number of checkpoints taken between an error
 * and its detection. An error at age a (time since the last checkpoint)
 * first meets a checkpoint after interval - a, then one every
 * interval + cost, so P(j >= k | a) = P(latency >= interval - a + (k-1)(interval + cost)).
 * The age is averaged over the interval, weighted by where errors land.
 */
export function corruptionOutlook(inputs: CorruptionInputs): CorruptionOutlook {
  const { intervalMs, checkpointCostMs, retention, detectionLatencyMs, latencyShape, errorRatePerMs } = inputs;
  const cycleMs = intervalMs + checkpointCostMs;
  const sliceMs = intervalMs / positionSlices;
  let weightSum = 0;
  let noneCorrupted = 0;
  let allCorrupted = 0;
  let expectedCorruptedWhenRecoverable = 0;
  for (let slice = 0; slice < positionSlices; slice++) {
    const age = (slice + 0.5) * sliceMs;
    const weight = Math.exp(-errorRatePerMs * age);
    weightSum += weight;
    const atLeast = (k: number) => latencySurvival(intervalMs - age + (k - 1) * cycleMs, detectionLatencyMs, latencyShape);
    const atLeastOne = atLeast(1);
    const atLeastAll = atLeast(retention);
    let sumAtLeast = 0;
    for (let k = 1; k < retention; k++) {
      const p = atLeast(k);
      if (p < negligible) break;
      sumAtLeast += p;
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
