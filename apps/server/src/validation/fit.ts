// From what one validation run recorded to the availability model's
// parameters and the comparison: measured availability (work kept against
// the unprotected rate) beside the model's, fed only what the run measured.
import {
  analyseAvailability,
  defaultAvailabilityParameters,
  erlangShape,
  median,
  parametersFromMeasurements,
  workingSetCovering,
  writeRateWithin,
  type AvailabilityParameters,
  type EpochWindow,
} from '@uckpt/engine';

/** One epoch as the agent reported it. */
export interface EpochSample {
  time: number;
  intervalMs: number;
  dirtyPages: number;
  pauseUs: number;
  faults: number;
  faultUs: number;
}

/** One injection and what became of it by the end of the run. */
export interface InjectionOutcome {
  kind: string;
  time: number;
  /** Injection to the first alert attributed to it, ms; absent when no detector fired. */
  detectionLatencyMs?: number;
  recovered: boolean;
}

export interface RunRecord {
  /** Progress units per second of the same workload unprotected: the mean of the calibrations before and after. */
  unprotectedRate: number;
  unprotectedRates: number[];
  /** The protected phase: wall time and the progress units the guest holds at its end (rolled-back work is gone). */
  protectedSeconds: number;
  unitsKept: number;
  intervalMs: number;
  retention: number;
  injections: InjectionOutcome[];
  epochs: EpochSample[];
  /** Durations of the recovery rollbacks' in-place restores, µs. */
  recoveryRollbacksUs: number[];
  /** Why the VM failed (a recovery found no clean checkpoint), if it did: it then did no work to the end. */
  failure: string | null;
}

export interface Comparison {
  /** Work lost per fault: the unprotected rate's work over the run less the work kept, as seconds of it, per fault. */
  measured: { availability: number; unavailability: number; lostSecondsPerFault: number | null };
  model: { availability: number; unavailability: number; occupancy: Record<string, number> };
  /** (model - measured) / measured, for A and for 1 - A. */
  relativeDifference: { availability: number; unavailability: number };
  parameters: AvailabilityParameters;
  /** How each parameter was obtained in this run. */
  sources: Record<keyof AvailabilityParameters, 'measured' | 'set'>;
}

/** Epochs are grouped a second at a time, as the event history's summaries group them a minute at a time. */
const windowMs = 1000;

export function epochWindows(epochs: readonly EpochSample[]): EpochWindow[] {
  const byWindow = new Map<number, EpochSample[]>();
  for (const epoch of epochs) {
    const key = Math.floor(epoch.time / windowMs);
    byWindow.set(key, [...(byWindow.get(key) ?? []), epoch]);
  }
  return [...byWindow.values()].map((group) => ({
    epochs: group.length,
    intervalMs: group[0]!.intervalMs,
    dirtyPagesMean: mean(group.map((e) => e.dirtyPages)),
    dirtyPagesMax: Math.max(...group.map((e) => e.dirtyPages)),
    pauseUsP50: median(group.map((e) => e.pauseUs)),
    faults: group.reduce((sum, e) => sum + e.faults, 0),
    faultUs: group.reduce((sum, e) => sum + e.faultUs, 0),
  }));
}

/**
 * The time the VM executed: the protected wall time less the latent errors
 * (injection to detection), the recovery rollbacks and the checkpoint
 * pauses, in which the model has no errors strike.
 */
export function executingSeconds(run: RunRecord): number {
  const latentMs = run.injections.reduce((sum, i) => sum + (i.detectionLatencyMs ?? 0), 0);
  const rollbacksUs = run.recoveryRollbacksUs.reduce((sum, us) => sum + us, 0);
  const pausesUs = run.epochs.reduce((sum, e) => sum + e.pauseUs, 0);
  return run.protectedSeconds - latentMs / 1000 - (rollbacksUs + pausesUs) / 1e6;
}

/**
 * The model's parameters as this run measured them. The error rate is the
 * injections per hour the VM executed (the model's λ); coverage the share of them a
 * detector caught; the latency's mean and its Erlang shape (mean² /
 * variance) from the detections. The repair time is the one thing a run
 * this short cannot measure: it is given.
 */
export function fittedParameters(run: RunRecord, repairSeconds: number): Pick<Comparison, 'parameters' | 'sources'> {
  const parameters: AvailabilityParameters = { ...defaultAvailabilityParameters, repairSeconds, intervalMs: run.intervalMs, retention: run.retention };
  const sources = Object.fromEntries(Object.keys(parameters).map((name) => [name, 'set'])) as Comparison['sources'];
  const measure = (name: keyof AvailabilityParameters, value: number | undefined) => {
    if (value === undefined || !Number.isFinite(value)) return;
    parameters[name] = value;
    sources[name] = 'measured';
  };
  measure('intervalMs', run.intervalMs);
  measure('retention', run.retention);
  measure('errorRatePerHour', (run.injections.length * 3600) / executingSeconds(run));
  const latencies = run.injections.flatMap((i) => (i.detectionLatencyMs === undefined ? [] : [i.detectionLatencyMs]));
  if (run.injections.length > 0) measure('coverage', latencies.length / run.injections.length);
  if (latencies.length > 0) {
    measure('detectionLatencyMs', mean(latencies));
    if (latencies.length >= 2) measure('latencyShape', erlangShape(latencies));
  }

  const windows = epochWindows(run.epochs);
  const measured = parametersFromMeasurements({ windows, rollbackDurationsUs: run.recoveryRollbacksUs });
  measure('rollbackMs', measured.rollbackMs);
  measure('checkpointOverheadMs', measured.checkpointOverheadMs);
  measure('copyUsPerPage', measured.copyUsPerPage);
  if (measured.workingSetPagesAtLeast !== undefined) {
    const workingSet = workingSetCovering(parameters.workingSetPages, measured.workingSetPagesAtLeast);
    if (workingSet !== parameters.workingSetPages) measure('workingSetPages', workingSet);
    measure('dirtyPagesPerSecond', writeRateWithin(windows, workingSet));
  }
  return { parameters, sources };
}

export function compare(run: RunRecord, repairSeconds: number): Comparison {
  const measuredAvailability = run.unitsKept / (run.unprotectedRate * run.protectedSeconds);
  const { parameters, sources } = fittedParameters(run, repairSeconds);
  const analysis = analyseAvailability(parameters);
  const model = analysis.availability;
  return {
    measured: {
      availability: measuredAvailability,
      unavailability: 1 - measuredAvailability,
      lostSecondsPerFault: run.injections.length > 0 ? ((1 - measuredAvailability) * run.protectedSeconds) / run.injections.length : null,
    },
    model: { availability: model, unavailability: 1 - model, occupancy: analysis.occupancy },
    relativeDifference: {
      availability: (model - measuredAvailability) / measuredAvailability,
      unavailability: (1 - model - (1 - measuredAvailability)) / (1 - measuredAvailability),
    },
    parameters,
    sources,
  };
}

/** Per fault kind: how many, how many detected, and their mean detection latency (ms). */
export function injectionsByKind(run: RunRecord): Record<string, { injected: number; detected: number; recovered: number; meanLatencyMs: number | null }> {
  const kinds = [...new Set(run.injections.map((i) => i.kind))].sort();
  return Object.fromEntries(kinds.map((kind) => {
    const ofKind = run.injections.filter((i) => i.kind === kind);
    const latencies = ofKind.flatMap((i) => (i.detectionLatencyMs === undefined ? [] : [i.detectionLatencyMs]));
    return [kind, { injected: ofKind.length, detected: latencies.length, recovered: ofKind.filter((i) => i.recovered).length, meanLatencyMs: latencies.length ? mean(latencies) : null }];
  }));
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}
