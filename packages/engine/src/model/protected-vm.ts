// The Markov model of one VM under checkpointing, and of the same VM
// unprotected. See README.md in this directory for the diagram and why
// each transition is what it is.
import { corruptionOutlook } from './detection-latency.js';
import { solveRenewalChain, type RenewalChain } from './markov-renewal.js';
import { checkpointCostMs, type AvailabilityParameters } from './parameters.js';

export const protectedVmStates = [
  'running',
  'checkpointing',
  'errorLatent',
  'recovering',
  'rollingBackFurther',
  'exhaustingRetention',
  'failed',
] as const;
export type ProtectedVmState = (typeof protectedVmStates)[number];

export const unprotectedVmStates = ['running', 'failed'] as const;
export type UnprotectedVmState = (typeof unprotectedVmStates)[number];

const msPerHour = 3_600_000;

/** The chain for these parameters; every time in ms. */
export function protectedVmChain(parameters: AvailabilityParameters): RenewalChain<ProtectedVmState> {
  const { intervalMs: interval, coverage, detectionLatencyMs: latency, rollbackMs: rollback, retention } = parameters;
  const errorRate = parameters.errorRatePerHour / msPerHour;
  const cost = checkpointCostMs(parameters, interval);
  // An interval ends in a checkpoint unless an error comes first.
  const survivesInterval = Math.exp(-errorRate * interval);
  const errs = -Math.expm1(-errorRate * interval);
  const meanRunning = errorRate > 0 ? errs / errorRate : interval;

  const outlook = corruptionOutlook({
    intervalMs: interval,
    checkpointCostMs: cost,
    retention,
    detectionLatencyMs: latency,
    latencyShape: parameters.latencyShape,
    errorRatePerMs: errorRate,
  });
  const recoverableLater = Math.max(0, 1 - outlook.noneCorrupted - outlook.allCorrupted);
  // Each corrupted checkpoint tried costs a rollback and the time for the
  // error to show again, which the detectors see with the same latency.
  const perFailedAttempt = latency + rollback;
  const meanCorrupted = recoverableLater > 0 ? outlook.expectedCorruptedWhenRecoverable / recoverableLater : 0;

  return {
    states: protectedVmStates,
    meanSojourn: {
      running: meanRunning,
      checkpointing: cost,
      errorLatent: latency,
      recovering: rollback,
      rollingBackFurther: meanCorrupted * perFailedAttempt,
      // The first attempt was `recovering`; then K - 1 more, each failing, and the last recurrence.
      exhaustingRetention: retention * latency + (retention - 1) * rollback,
      failed: parameters.repairSeconds * 1000,
    },
    next: {
      running: { checkpointing: survivesInterval, errorLatent: errs * coverage, failed: errs * (1 - coverage) },
      checkpointing: { running: 1 },
      errorLatent: { recovering: 1 },
      recovering: { running: outlook.noneCorrupted, rollingBackFurther: recoverableLater, exhaustingRetention: outlook.allCorrupted },
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

export function solveProtectedVm(parameters: AvailabilityParameters): ProtectedVmSolution {
  const chain = protectedVmChain(parameters);
  const { occupancy, visitRate } = solveRenewalChain(chain);
  // Work since the last checkpoint is lost when an error strikes (the
  // rollback, or the restart, goes back past it), so only intervals that
  // end in a checkpoint count: each visit to running yields the interval
  // with probability P(no error in it).
  const committed = chain.next.running.checkpointing ?? 0;
  const availability = visitRate.running * committed * parameters.intervalMs;
  return { availability: Math.min(1, availability), occupancy };
}

/** The same VM without checkpoints: every error is a failure and a repair. Needs a positive error rate. */
export function unprotectedVmChain(parameters: AvailabilityParameters): RenewalChain<UnprotectedVmState> {
  const errorRate = parameters.errorRatePerHour / msPerHour;
  return {
    states: unprotectedVmStates,
    meanSojourn: { running: 1 / errorRate, failed: parameters.repairSeconds * 1000 },
    next: { running: { failed: 1 }, failed: { running: 1 } },
  };
}

export function solveUnprotectedVm(parameters: AvailabilityParameters): number {
  if (parameters.errorRatePerHour === 0) return 1;
  return solveRenewalChain(unprotectedVmChain(parameters)).occupancy.running;
}
