// What the availability model needs to know about a protected VM, in the
// units operators use, with the ranges the model accepts and the defaults
// it falls back on. One place, shared by the model and the API's schema.
import type { DetectorClass } from './detection-latency.js';

export interface AvailabilityParameters {
  /** Errors that reach the VM (hypervisor or guest) per hour of execution. */
  errorRatePerHour: number;
  /**
   * Share of the errors that have no effect (a flipped bit never read, or
   * overwritten): nothing detects them and nothing needs to, they cost nothing.
   */
  maskedFraction: number;
  /** Fraction of the errors with an effect that the detectors catch (0..1); the rest go undetected until the VM fails. */
  coverage: number;
  /** Mean time from an error to its detection, ms. */
  detectionLatencyMs: number;
  /** Shape of the detection latency: Erlang with this many phases (1 = exponential; larger = less spread). */
  latencyShape: number;
  /**
   * The latency bound recovery trusts: it rolls back to the newest checkpoint
   * taken at or before detection - this, and steps back further only when
   * the error recurs. The engine's detectors state theirs (hangTimeoutMs + 2
   * progress samples, selfCheckLatencyMs, crashLatencyMs), ms.
   */
  latencyBoundMs: number;
  /** Time between checkpoints, ms. */
  intervalMs: number;
  /** Fixed cost of one checkpoint (pause, dirty-log harvest, re-arm), ms of guest time. */
  checkpointOverheadMs: number;
  /** Pages the workload writes per second. */
  dirtyPagesPerSecond: number;
  /** Guest time lost per page dirtied in an epoch (copy, or protection fault and copy), µs. */
  copyUsPerPage: number;
  /** Distinct pages the workload writes at most, however long the interval; 0 = unbounded. */
  workingSetPages: number;
  /** Time to roll back to a retained checkpoint, ms. */
  rollbackMs: number;
  /** Checkpoints retained (K). */
  retention: number;
  /** Time to bring a failed VM back (repair, restart from scratch), s. */
  repairSeconds: number;
}

/** Accepted ranges, inclusive. Integers where marked. */
export const availabilityParameterLimits = {
  errorRatePerHour: { min: 0, max: 3600 },
  maskedFraction: { min: 0, max: 1 },
  coverage: { min: 0, max: 1 },
  detectionLatencyMs: { min: 0, max: 3_600_000 },
  latencyShape: { min: 1, max: 32, integer: true },
  latencyBoundMs: { min: 0, max: 3_600_000 },
  intervalMs: { min: 1, max: 10_000 },
  checkpointOverheadMs: { min: 0, max: 10_000 },
  dirtyPagesPerSecond: { min: 0, max: 100_000_000 },
  copyUsPerPage: { min: 0, max: 10_000 },
  workingSetPages: { min: 0, max: 1_000_000_000, integer: true },
  rollbackMs: { min: 0, max: 3_600_000 },
  retention: { min: 1, max: 1024, integer: true },
  repairSeconds: { min: 0, max: 30 * 86_400 },
} as const satisfies Record<keyof AvailabilityParameters, { min: number; max: number; integer?: boolean }>;

/**
 * A reasonably reliable host (one error per 100 hours, an hour to repair:
 * 99% available unprotected) running a lightly writing VM; the checkpoint
 * costs are of the order measured on KVM (see platform.md).
 */
export const defaultAvailabilityParameters: Readonly<AvailabilityParameters> = {
  errorRatePerHour: 0.01,
  maskedFraction: 0,
  coverage: 0.99,
  detectionLatencyMs: 100,
  latencyShape: 4,
  // No bound: the newest checkpoint first, one older per recurrence. `?vmId=` takes the VM's detectors' bounds.
  latencyBoundMs: 0,
  intervalMs: 50,
  checkpointOverheadMs: 0.1,
  dirtyPagesPerSecond: 1000,
  copyUsPerPage: 0.5,
  workingSetPages: 1024,
  rollbackMs: 10,
  retention: 8,
  repairSeconds: 3600,
};

/**
 * Raises the working set to what was seen dirtied in one epoch: a smaller one
 * would cap the pages per interval below a measured count. 0 (unbounded) stays.
 */
export function workingSetCovering(workingSetPages: number, pagesSeenInOneEpoch: number): number {
  return workingSetPages === 0 ? 0 : Math.max(workingSetPages, pagesSeenInOneEpoch);
}

/** Throws a RangeError naming the first parameter outside its range. */
export function checkAvailabilityParameters(parameters: AvailabilityParameters): void {
  for (const [name, limit] of Object.entries(availabilityParameterLimits) as [keyof AvailabilityParameters, { min: number; max: number; integer?: boolean }][]) {
    const value = parameters[name];
    if (!Number.isFinite(value) || value < limit.min || value > limit.max) {
      throw new RangeError(`${name} must be within ${limit.min}..${limit.max}, got ${value}`);
    }
    if (limit.integer && !Number.isInteger(value)) throw new RangeError(`${name} must be an integer, got ${value}`);
  }
}

/** Throws a RangeError unless every detector is within the flat parameters' ranges and the shares sum to 1. */
export function checkDetectorClasses(detectors: readonly DetectorClass[]): void {
  if (detectors.length === 0) throw new RangeError('detectors must name at least one detector');
  let total = 0;
  detectors.forEach((detector, i) => {
    if (!Number.isFinite(detector.share) || detector.share < 0 || detector.share > 1) throw new RangeError(`detectors[${i}].share must be within 0..1, got ${detector.share}`);
    total += detector.share;
    for (const name of ['detectionLatencyMs', 'latencyShape', 'latencyBoundMs'] as const) {
      const limit: { min: number; max: number; integer?: boolean } = availabilityParameterLimits[name];
      const value = detector[name];
      if (!Number.isFinite(value) || value < limit.min || value > limit.max || (limit.integer && !Number.isInteger(value))) {
        throw new RangeError(`detectors[${i}].${name} must be ${limit.integer ? 'an integer ' : ''}within ${limit.min}..${limit.max}, got ${value}`);
      }
    }
  });
  if (Math.abs(total - 1) > 1e-9) throw new RangeError(`the detectors' shares must sum to 1, got ${total}`);
  detectors.forEach((detector, i) => {
    if (detector.boundFollowsLatency && detector.latencyBoundMs < detector.detectionLatencyMs) {
      throw new RangeError(`detectors[${i}]: a bound that follows the latency covers it: latencyBoundMs (${detector.latencyBoundMs}) must be at least detectionLatencyMs (${detector.detectionLatencyMs})`);
    }
  });
}

/** Distinct pages written in an interval of this length: linear, saturating at the working set. */
export function pagesDirtiedPerInterval(parameters: AvailabilityParameters, intervalMs: number): number {
  const written = (parameters.dirtyPagesPerSecond * intervalMs) / 1000;
  const workingSet = parameters.workingSetPages;
  // Writes land uniformly on the working set: the distinct share follows 1 - e^-x.
  return workingSet > 0 ? workingSet * -Math.expm1(-written / workingSet) : written;
}

/** Guest time one checkpoint costs at this interval, ms: the fixed part plus the dirty pages'. */
export function checkpointCostMs(parameters: AvailabilityParameters, intervalMs: number): number {
  return parameters.checkpointOverheadMs + (pagesDirtiedPerInterval(parameters, intervalMs) * parameters.copyUsPerPage) / 1000;
}

/** Checkpointing overhead as the project measures it: time with / time without - 1, in %. */
export function overheadPct(parameters: AvailabilityParameters, intervalMs: number): number {
  return (100 * checkpointCostMs(parameters, intervalMs)) / intervalMs;
}
