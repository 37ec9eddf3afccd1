// The Markov model of one VM under checkpointing, and of the same VM
// unprotected. See README.md in this directory for the diagram and why
// each transition is what it is.
import { recoveryOutlook, type DetectorClass } from './detection-latency.js';
import { solveRenewalChain, type RenewalChain } from './markov-renewal.js';
import { checkpointCostMs, type AvailabilityParameters } from './parameters.js';

export const protectedVmStates = [
  'running',
  'checkpointing',
  'errorLatent',
  'recovering',
  'reExecuting',
  'rollingBackFurther',
  'exhaustingRetention',
  'failed',
] as const;
export type ProtectedVmState = (typeof protectedVmStates)[number];

export const unprotectedVmStates = ['running', 'failed'] as const;
export type UnprotectedVmState = (typeof unprotectedVmStates)[number];

const msPerHour = 3_600_000;

/** The one detector the flat parameters describe. */
export function singleDetector(parameters: AvailabilityParameters): DetectorClass[] {
  const { detectionLatencyMs, latencyShape, latencyBoundMs } = parameters;
  return [{ share: 1, detectionLatencyMs, latencyShape, latencyBoundMs }];
}

/** Errors per ms of running that have an effect: masked ones change nothing and cost nothing. */
function effectiveErrorRatePerMs(parameters: AvailabilityParameters): number {
  return (parameters.errorRatePerHour * (1 - parameters.maskedFraction)) / msPerHour;
}

/**
 * The chain for these parameters; every time in ms. With `detectors`, the
 * errors that are detected are shared among them as given (each with its
 * latency and bound); without, the flat parameters describe the one detector.
 */
export function protectedVmChain(parameters: AvailabilityParameters, detectors: readonly DetectorClass[] = singleDetector(parameters)): RenewalChain<ProtectedVmState> {
  const { intervalMs: interval, coverage, rollbackMs: rollback, retention } = parameters;
  const errorRate = effectiveErrorRatePerMs(parameters);
  const cost = checkpointCostMs(parameters, interval);
  // An interval ends in a checkpoint unless an error (one with an effect) comes first.
  const survivesInterval = Math.exp(-errorRate * interval);
  const errs = -Math.expm1(-errorRate * interval);
  const meanRunning = errorRate > 0 ? errs / errorRate : interval;

  // Every error's excursion from running returns to running (or fails)
  // before the next, so the detectors enter as a mixture: each state's
  // leaving probabilities and total time are averaged over which detector
  // caught the error, weighted by its share. Long-run shares are exact.
  let latency = 0;
  let clean = 0;
  let discarded = 0;
  let recurring = 0;
  let recurringTime = 0;
  let exhausted = 0;
  let exhaustedTime = 0;
  for (const detector of detectors) {
    const outlook = recoveryOutlook({ intervalMs: interval, checkpointCostMs: cost, retention, errorRatePerMs: errorRate, detector });
    const { share, detectionLatencyMs } = detector;
    latency += share * detectionLatencyMs;
    clean += share * outlook.cleanFirst;
    discarded += share * outlook.expectedDiscardedMs;
    recurring += share * outlook.recurring;
    // Each corrupt checkpoint tried costs the time for the error to show again (the detector's latency) and one more rollback.
    recurringTime += share * outlook.expectedRecurrences * (detectionLatencyMs + rollback);
    // The first attempt was `recovering`; then the others, each failing after a recurrence.
    const attempts = outlook.expectedAttemptsWhenExhausted;
    exhausted += share * outlook.exhausted;
    exhaustedTime += share * (attempts * detectionLatencyMs + Math.max(0, attempts - outlook.exhausted) * rollback);
  }
  const total = clean + recurring + exhausted;
  const conditional = (time: number, probability: number) => (probability > 0 ? time / probability : 0);

  return {
    states: protectedVmStates,
    meanSojourn: {
      running: meanRunning,
      checkpointing: cost,
      errorLatent: latency,
      recovering: rollback,
      reExecuting: conditional(discarded, clean),
      rollingBackFurther: conditional(recurringTime, recurring),
      exhaustingRetention: conditional(exhaustedTime, exhausted),
      failed: parameters.repairSeconds * 1000,
    },
    next: {
      running: { checkpointing: survivesInterval, errorLatent: errs * coverage, failed: errs * (1 - coverage) },
      checkpointing: { running: 1 },
      errorLatent: { recovering: 1 },
      // The slices' round-off is renormalised: the three outcomes are the whole of it.
      recovering: { reExecuting: clean / total, rollingBackFurther: recurring / total, exhaustingRetention: exhausted / total },
      reExecuting: { running: 1 },
      rollingBackFurther: { running: 1 },
      exhaustingRetention: { failed: 1 },
      failed: { running: 1 },
    },
  };
}

export interface ProtectedVmSolution {
  /** Share of time doing work that is kept: running, in intervals a checkpoint commits. */
  availability: number;
  /** Long-run share of time in each state. */
  occupancy: Record<ProtectedVmState, number>;
}

export function solveProtectedVm(parameters: AvailabilityParameters, detectors?: readonly DetectorClass[]): ProtectedVmSolution {
  const chain = protectedVmChain(parameters, detectors);
  const { occupancy, visitRate } = solveRenewalChain(chain);
  // Work since the last checkpoint is lost when an error strikes (the
  // rollback, or the restart, goes back past it), so only intervals that
  // end in a checkpoint count: each visit to running yields the interval
  // with probability P(no error in it). Committed work a rollback to the
  // bound throws away is re-done in reExecuting, which yields nothing new.
  const committed = chain.next.running.checkpointing ?? 0;
  const availability = visitRate.running * committed * parameters.intervalMs;
  return { availability: Math.min(1, availability), occupancy };
}

/** The same VM without checkpoints: every error with an effect is a failure and a repair. */
export function unprotectedVmChain(parameters: AvailabilityParameters): RenewalChain<UnprotectedVmState> {
  const errorRate = effectiveErrorRatePerMs(parameters);
  return {
    states: unprotectedVmStates,
    meanSojourn: { running: 1 / errorRate, failed: parameters.repairSeconds * 1000 },
    next: { running: { failed: 1 }, failed: { running: 1 } },
  };
}

export function solveUnprotectedVm(parameters: AvailabilityParameters): number {
  if (effectiveErrorRatePerMs(parameters) === 0) return 1;
  return solveRenewalChain(unprotectedVmChain(parameters)).occupancy.running;
}
