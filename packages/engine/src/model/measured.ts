// Model parameters from what the engine has measured on a VM. Only what the
// measurements determine on their own: the split of a checkpoint's cost into
// a fixed and a per-page part needs epochs at different dirty counts, and
// error rate, coverage and latency need the detectors' history.
import type { AvailabilityParameters } from './parameters.js';

/** A window of epochs as the event history summarises it. */
export interface EpochWindow {
  epochs: number;
  intervalMs: number;
  dirtyPagesMean: number;
  dirtyPagesMax: number;
}

export interface Measurements {
  windows: readonly EpochWindow[];
  /** Durations of completed rollbacks, µs. */
  rollbackDurationsUs: readonly number[];
}

export interface MeasuredParameters extends Partial<Pick<AvailabilityParameters, 'dirtyPagesPerSecond' | 'rollbackMs'>> {
  /** The most pages one epoch dirtied: the working set is at least this large. */
  workingSetPagesAtLeast?: number;
}

function median(values: readonly number[]): number {
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
  }
  return measured;
}
