// Model parameters from what the engine has measured on a VM: the epochs and
// rollbacks give the costs, the faults injected into it (and what the
// detectors made of them) the coverage and latency. The split of a checkpoint's cost into a fixed and
// a per-page part needs windows at different dirty counts; with one dirty
// level the whole cost is charged per page, which is what it scales with.
import type { AvailabilityParameters } from './parameters.js';

/** A window of epochs as the event history summarises it. */
export interface EpochWindow {
  epochs: number;
  intervalMs: number;
  dirtyPagesMean: number;
  dirtyPagesMax: number;
  /** Median pause per epoch, µs. */
  pauseUsP50?: number;
  /** Write faults the guest took in the window and the time they cost it, µs. */
  faults?: number;
  faultUs?: number;
}

export interface Measurements {
  windows: readonly EpochWindow[];
  /** Durations of completed rollbacks, µs. */
  rollbackDurationsUs: readonly number[];
}

type MeasuredNames = 'dirtyPagesPerSecond' | 'rollbackMs' | 'checkpointOverheadMs' | 'copyUsPerPage';

export interface MeasuredParameters extends Partial<Pick<AvailabilityParameters, MeasuredNames>> {
  /** The most pages one epoch dirtied: the working set is at least this large. */
  workingSetPagesAtLeast?: number;
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function parametersFromMeasurements({ windows, rollbackDurationsUs }: Measurements): MeasuredParameters {
  const measured: MeasuredParameters = {};
  const rollbacks = rollbackDurationsUs.filter((duration) => Number.isFinite(duration) && duration >= 0);
  // The median: one rollback that waited on a busy host should not set the model's recovery time.
  if (rollbacks.length > 0) measured.rollbackMs = median(rollbacks) / 1000;

  const counted = windows.filter((window) => window.epochs > 0 && window.intervalMs > 0);
  const epochs = counted.reduce((sum, window) => sum + window.epochs, 0);
  if (epochs > 0) {
    // Distinct pages per epoch over the interval: the write rate as checkpoints see it.
    const pagesPerSecond = counted.reduce((sum, window) => sum + window.epochs * ((window.dirtyPagesMean * 1000) / window.intervalMs), 0) / epochs;
    measured.dirtyPagesPerSecond = pagesPerSecond;
    measured.workingSetPagesAtLeast = Math.ceil(Math.max(...counted.map((window) => window.dirtyPagesMax)));
    Object.assign(measured, checkpointCost(counted));
  }
  return measured;
}

/** Dirty counts must differ by this factor before a fixed part can be told from a per-page one. */
const spreadForFit = 1.5;

/**
 * The guest's time per checkpoint (pause plus the write faults of the epoch)
 * as fixed + pages x per-page: a least-squares line over the windows, weighted
 * by their epochs, when their dirty counts differ enough; otherwise all of it
 * per page. Either part is kept non-negative.
 */
export function checkpointCost(windows: readonly EpochWindow[]): Pick<MeasuredParameters, 'checkpointOverheadMs' | 'copyUsPerPage'> {
  const points = windows.flatMap((window) =>
    window.pauseUsP50 === undefined || window.dirtyPagesMean <= 0
      ? []
      : [{ weight: window.epochs, pages: window.dirtyPagesMean, costUs: window.pauseUsP50 + (window.faultUs ?? 0) / window.epochs }],
  );
  if (points.length === 0) return {};
  const total = points.reduce((sum, p) => sum + p.weight, 0);
  const meanPages = points.reduce((sum, p) => sum + p.weight * p.pages, 0) / total;
  const meanCost = points.reduce((sum, p) => sum + p.weight * p.costUs, 0) / total;
  const pages = points.map((p) => p.pages);
  if (Math.max(...pages) >= spreadForFit * Math.min(...pages)) {
    const covariance = points.reduce((sum, p) => sum + p.weight * (p.pages - meanPages) * (p.costUs - meanCost), 0);
    const variance = points.reduce((sum, p) => sum + p.weight * (p.pages - meanPages) ** 2, 0);
    const perPage = Math.max(0, covariance / variance);
    const fixed = meanCost - perPage * meanPages;
    if (fixed >= 0) return { checkpointOverheadMs: fixed / 1000, copyUsPerPage: perPage };
  }
  return { checkpointOverheadMs: 0, copyUsPerPage: meanCost / meanPages };
}

/**
 * The write rate that, landing uniformly on `workingSetPages`, dirties each
 * window's distinct pages in its interval: the inverse of the model's
 * pagesDirtiedPerInterval, so that the model reproduces what was measured at
 * the measured interval. Distinct pages over the interval alone understate
 * the rate whenever the working set saturates.
 */
export function writeRateWithin(windows: readonly EpochWindow[], workingSetPages: number): number | undefined {
  const counted = windows.filter((window) => window.epochs > 0 && window.intervalMs > 0);
  const epochs = counted.reduce((sum, window) => sum + window.epochs, 0);
  if (epochs === 0 || workingSetPages <= 0) return undefined;
  // A window that dirtied the whole working set gives no upper bound on the rate: cap the share.
  const share = (window: EpochWindow) => Math.min(window.dirtyPagesMean / workingSetPages, 0.999);
  const rate = (window: EpochWindow) => (-workingSetPages * Math.log1p(-share(window)) * 1000) / window.intervalMs;
  return counted.reduce((sum, window) => sum + window.epochs * rate(window), 0) / epochs;
}

/** An injected fault as the VM's history records it (the agent's Injection, reduced to what the model needs). */
export interface ObservedInjection {
  time: number;
  kind: string;
  status: 'pending' | 'detected' | 'undetected';
  /** Injection to the first alert attributed to it, ms. */
  detectionLatencyMs?: number;
  /** The latency bound of the detector behind that alert, ms: what its recovery rolled back past. */
  latencyBoundMs?: number;
}

/** Fewer observations than this leave a parameter at its default: two or three faults say little. */
export const minimumObservations = 5;

/**
 * Detection coverage, mean latency and its Erlang shape from the faults
 * injected into a VM. A fault counts once its fate is known: detected,
 * declared undetected when the run ended, or still pending after
 * `overdueAfterMs` (longer than any detector's bound: none will fire for it
 * now). Corrupted checkpoint pages are left out: they never reach the
 * running VM, which is what the model's errors do. A fault never detected
 * counts as missed: the VM's history cannot tell a masked one (the model's
 * maskedFraction, which a campaign measures) from a harmful one.
 */
export function detectionFromInjections(
  injections: readonly ObservedInjection[],
  now: number,
  overdueAfterMs: number,
): Partial<Pick<AvailabilityParameters, 'coverage' | 'detectionLatencyMs' | 'latencyShape' | 'latencyBoundMs'>> {
  const ofTheVm = injections.filter((i) => i.kind !== 'checkpoint-page');
  const decided = ofTheVm.filter((i) => i.status !== 'pending' || now - i.time > overdueAfterMs);
  const latencies = ofTheVm.flatMap((i) => (i.status === 'detected' && i.detectionLatencyMs !== undefined ? [i.detectionLatencyMs] : []));
  const measured: ReturnType<typeof detectionFromInjections> = {};
  if (decided.length >= minimumObservations) measured.coverage = decided.filter((i) => i.status === 'detected').length / decided.length;
  if (latencies.length >= minimumObservations) {
    measured.detectionLatencyMs = latencies.reduce((sum, l) => sum + l, 0) / latencies.length;
    measured.latencyShape = erlangShape(latencies);
  }
  // The bound each detection's recovery trusted, averaged: the lost work grows with it linearly.
  const bounds = ofTheVm.flatMap((i) => (i.status === 'detected' && i.latencyBoundMs !== undefined ? [i.latencyBoundMs] : []));
  if (bounds.length >= minimumObservations) measured.latencyBoundMs = bounds.reduce((sum, b) => sum + b, 0) / bounds.length;
  return measured;
}

/**
 * The Erlang shape with the latencies' spread: mean² / variance, whole and
 * within 1..32 (the model's range). Identical latencies take the largest.
 */
export function erlangShape(latencies: readonly number[]): number {
  const mean = latencies.reduce((sum, l) => sum + l, 0) / latencies.length;
  const variance = latencies.reduce((sum, l) => sum + (l - mean) ** 2, 0) / Math.max(1, latencies.length - 1);
  if (!(mean > 0)) return 1;
  if (variance === 0) return 32;
  return Math.min(32, Math.max(1, Math.round((mean * mean) / variance)));
}
