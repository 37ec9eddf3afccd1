// What operators ask of the model: availability at the current settings,
// the same VM unprotected, the curve over checkpoint intervals, and the
// interval that maximises availability within an overhead budget.
import type { DetectorClass } from './detection-latency.js';
import { availabilityParameterLimits, checkAvailabilityParameters, checkDetectorClasses, overheadPct, type AvailabilityParameters } from './parameters.js';
import { solveProtectedVm, solveUnprotectedVm, type ProtectedVmState } from './protected-vm.js';

export const secondsPerYear = 365.25 * 86_400;

export interface CurvePoint {
  intervalMs: number;
  availability: number;
  overheadPct: number;
}

export interface AvailabilityAnalysis {
  availability: number;
  unprotectedAvailability: number;
  /** Time per year without useful work: down, recovering, re-executing lost work or checkpointing. */
  downtimeSecondsPerYear: number;
  overheadPct: number;
  occupancy: Record<ProtectedVmState, number>;
  /** The best interval within the budget; null when even the longest interval exceeds it. */
  recommendedIntervalMs: number | null;
  recommendedAvailability: number | null;
  curve: CurvePoint[];
}

export const defaultOverheadBudgetPct = 3;

export function availabilityAt(parameters: AvailabilityParameters, intervalMs: number, detectors?: readonly DetectorClass[]): number {
  return solveProtectedVm({ ...parameters, intervalMs }, detectors).availability;
}

/** Ten points per decade over every interval the engine accepts (the R10 preferred numbers). */
export function curveIntervals(): number[] {
  const steps = [1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8];
  const { min, max } = availabilityParameterLimits.intervalMs;
  const intervals: number[] = [];
  for (let decade = min; decade <= max; decade *= 10) {
    for (const step of steps) {
      const interval = Math.round(decade * step * 100) / 100;
      if (interval <= max) intervals.push(interval);
    }
  }
  return intervals;
}

export function availabilityCurve(parameters: AvailabilityParameters, intervals: readonly number[] = curveIntervals(), detectors?: readonly DetectorClass[]): CurvePoint[] {
  return intervals.map((intervalMs) => ({
    intervalMs,
    availability: availabilityAt(parameters, intervalMs, detectors),
    overheadPct: overheadPct(parameters, intervalMs),
  }));
}

/** The shortest interval whose overhead is within the budget (overhead only falls as the interval grows). */
function shortestIntervalWithin(parameters: AvailabilityParameters, budgetPct: number): number | null {
  const { min, max } = availabilityParameterLimits.intervalMs;
  if (overheadPct(parameters, max) > budgetPct) return null;
  if (overheadPct(parameters, min) <= budgetPct) return min;
  let low: number = min;
  let high: number = max;
  for (let step = 0; step < 60; step++) {
    const middle = Math.sqrt(low * high);
    if (overheadPct(parameters, middle) <= budgetPct) high = middle;
    else low = middle;
  }
  return high;
}

/** Maximises f over [low, high] on a log scale: a scan for the right basin, then a golden-section search in it. */
function argmaxLog(f: (x: number) => number, low: number, high: number): number {
  if (high <= low) return low;
  const points = 48;
  const at = (i: number) => low * Math.pow(high / low, i / points);
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i <= points; i++) {
    const value = f(at(i));
    if (value > bestValue) [best, bestValue] = [i, value];
  }
  let a = Math.log(at(Math.max(0, best - 1)));
  let b = Math.log(at(Math.min(points, best + 1)));
  const ratio = (Math.sqrt(5) - 1) / 2;
  let c = b - ratio * (b - a);
  let d = a + ratio * (b - a);
  let fc = f(Math.exp(c));
  let fd = f(Math.exp(d));
  while (b - a > 1e-6) {
    if (fc >= fd) {
      [b, d, fd] = [d, c, fc];
      c = b - ratio * (b - a);
      fc = f(Math.exp(c));
    } else {
      [a, c, fc] = [c, d, fd];
      d = a + ratio * (b - a);
      fd = f(Math.exp(d));
    }
  }
  return Math.exp((a + b) / 2);
}

/**
 * The interval, in whole ms as the engine takes it, that maximises
 * availability among those whose overhead is within the budget.
 */
export function recommendInterval(parameters: AvailabilityParameters, overheadBudgetPct = defaultOverheadBudgetPct, detectors?: readonly DetectorClass[]): number | null {
  const shortest = shortestIntervalWithin(parameters, overheadBudgetPct);
  if (shortest === null) return null;
  const { max } = availabilityParameterLimits.intervalMs;
  const best = argmaxLog((interval) => availabilityAt(parameters, interval, detectors), shortest, max);
  const candidates = [Math.floor(best), Math.ceil(best), Math.ceil(shortest)].filter(
    (interval) => interval >= 1 && interval <= max && overheadPct(parameters, interval) <= overheadBudgetPct,
  );
  if (candidates.length === 0) return null;
  return candidates.reduce((a, b) => (availabilityAt(parameters, b, detectors) > availabilityAt(parameters, a, detectors) ? b : a));
}

/**
 * Everything at once. `detectors`, when given, share the detected errors
 * among several detectors, each with its latency and bound, in place of the
 * flat parameters' one (detectionLatencyMs, latencyShape, latencyBoundMs).
 */
export function analyseAvailability(parameters: AvailabilityParameters, overheadBudgetPct = defaultOverheadBudgetPct, detectors?: readonly DetectorClass[]): AvailabilityAnalysis {
  checkAvailabilityParameters(parameters);
  if (detectors) checkDetectorClasses(detectors);
  if (!(overheadBudgetPct > 0 && overheadBudgetPct <= 100)) throw new RangeError(`overheadBudgetPct must be within (0, 100], got ${overheadBudgetPct}`);
  const { availability, occupancy } = solveProtectedVm(parameters, detectors);
  const recommendedIntervalMs = recommendInterval(parameters, overheadBudgetPct, detectors);
  return {
    availability,
    unprotectedAvailability: solveUnprotectedVm(parameters),
    downtimeSecondsPerYear: (1 - availability) * secondsPerYear,
    overheadPct: overheadPct(parameters, parameters.intervalMs),
    occupancy,
    recommendedIntervalMs,
    recommendedAvailability: recommendedIntervalMs === null ? null : availabilityAt(parameters, recommendedIntervalMs, detectors),
    curve: availabilityCurve(parameters, curveIntervals(), detectors),
  };
}
