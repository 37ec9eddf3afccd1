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
  type DetectorClass,
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
  /** The detector behind that alert and the latency bound it stated (recovery rolls back to detection - bound). */
  detector?: string;
  latencyBoundMs?: number;
  /** Injection to the end of the recovery's last rollback, ms. */
  recoveredAfterMs?: number;
  /** Committed work the recovery threw away: from the chosen checkpoint to the newest one before the fault, ms. */
  discardedMs?: number;
  recovered: boolean;
  /**
   * Whether it changed anything: detected, or a run finished with a wrong
   * checksum after it, or none finished. An undetected fault after which
   * the next run was right was masked.
   */
  harmful: boolean;
  runsAfter?: number;
  wrongRunsAfter?: number;
}

export interface RunRecord {
  /** Progress units per second of the same workload unprotected: the mean of the calibrations before and after. */
  unprotectedRate: number;
  unprotectedRates: number[];
  /** The protected phase: wall time and the progress units the guest holds at its end (rolled-back work is gone). */
  protectedSeconds: number;
  /** The protected phase's fault-free stretches (no fault in flight): their length and the guest's progress in them. */
  cleanStretches?: { seconds: number; units: number };
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
  /**
   * Work kept over what the unprotected rate does in the run's wall time. The
   * rate is the one the guest showed in the run's own fault-free stretches,
   * divided by 1 - the checkpoints' share of the time (pauses and write
   * faults, from the epochs); `calibrated` uses the calibrations before and
   * after instead, which miss a change of host load within the run. Work lost
   * per fault: the rate's work over the run less the work kept, as seconds of
   * it, per fault.
   */
  measured: {
    availability: number;
    unavailability: number;
    lostSecondsPerFault: number | null;
    referenceRate: number;
    calibrated: { availability: number; rate: number };
  };
  /** The model with each detector as measured (share, latency, bound). */
  model: { availability: number; unavailability: number; occupancy: Record<string, number> };
  /** (model - measured) / measured, for A and for 1 - A. */
  relativeDifference: { availability: number; unavailability: number };
  /** The model with one detector of the mean latency, its Erlang shape and the mean bound (what the flat parameters say). */
  oneDetector: { availability: number; relativeDifference: number };
  parameters: AvailabilityParameters;
  detectors: (DetectorClass & { name: string; detected: number })[];
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
 * The time the VM ran new work, the model's `running`: the protected wall
 * time less each fault's excursion (injection to detection, the recovery's
 * rollbacks and recurrences, then the committed work it threw away and the
 * VM ran again) and the checkpoint pauses, in which the model has no errors
 * strike.
 */
export function executingSeconds(run: RunRecord): number {
  const excursionsMs = run.injections.reduce((sum, i) => sum + (i.recoveredAfterMs ?? i.detectionLatencyMs ?? 0) + (i.discardedMs ?? 0), 0);
  const pausesUs = run.epochs.reduce((sum, e) => sum + e.pauseUs, 0);
  return run.protectedSeconds - excursionsMs / 1000 - pausesUs / 1e6;
}

/**
 * The detectors as this run saw them: per detector, its share of the
 * detections, their mean latency and Erlang shape, and the mean bound its
 * alerts stated (the heartbeat's grows with the stall it saw).
 */
export function detectorClasses(run: RunRecord): Comparison['detectors'] {
  const detected = run.injections.filter((i) => i.detectionLatencyMs !== undefined);
  const names = [...new Set(detected.map((i) => i.detector ?? 'unknown'))].sort();
  return names.map((name) => {
    const of = detected.filter((i) => (i.detector ?? 'unknown') === name);
    const latencies = of.map((i) => i.detectionLatencyMs!);
    const bounds = of.flatMap((i) => (i.latencyBoundMs === undefined ? [] : [i.latencyBoundMs]));
    return {
      name,
      detected: of.length,
      share: of.length / detected.length,
      detectionLatencyMs: mean(latencies),
      latencyShape: latencies.length >= 2 ? erlangShape(latencies) : 1,
      latencyBoundMs: bounds.length > 0 ? mean(bounds) : 0,
      // The heartbeat's bound is the stall it saw plus one progress sample: it covers each latency by a margin.
      ...(name === 'heartbeat' && { boundFollowsLatency: true }),
    };
  });
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
  const harmful = run.injections.filter((i) => i.harmful || i.detectionLatencyMs !== undefined);
  if (run.injections.length > 0) measure('maskedFraction', 1 - harmful.length / run.injections.length);
  // Coverage among the faults that had an effect: the masked ones needed no detector.
  if (harmful.length > 0) measure('coverage', latencies.length / harmful.length);
  if (latencies.length > 0) {
    measure('detectionLatencyMs', mean(latencies));
    if (latencies.length >= 2) measure('latencyShape', erlangShape(latencies));
    const bounds = run.injections.flatMap((i) => (i.detectionLatencyMs === undefined || i.latencyBoundMs === undefined ? [] : [i.latencyBoundMs]));
    if (bounds.length > 0) measure('latencyBoundMs', mean(bounds));
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

/**
 * The unprotected rate during the run: the progress rate of its fault-free
 * stretches over 1 - the checkpoints' share of the time (what they cost the
 * guest: the pauses and the write faults the epochs measured). Without
 * stretches, the calibrations' mean.
 */
export function referenceRate(run: RunRecord): number {
  const clean = run.cleanStretches;
  if (!clean || !(clean.seconds > 0) || !(clean.units > 0)) return run.unprotectedRate;
  const checkpointUs = run.epochs.reduce((sum, e) => sum + e.pauseUs + e.faultUs, 0);
  const share = Math.min(0.5, checkpointUs / 1e6 / run.protectedSeconds);
  return clean.units / clean.seconds / (1 - share);
}

export function compare(run: RunRecord, repairSeconds: number): Comparison {
  const rate = referenceRate(run);
  const measuredAvailability = run.unitsKept / (rate * run.protectedSeconds);
  const calibratedAvailability = run.unitsKept / (run.unprotectedRate * run.protectedSeconds);
  const { parameters, sources } = fittedParameters(run, repairSeconds);
  const detectors = detectorClasses(run);
  const analysis = analyseAvailability(parameters, undefined, detectors.length > 0 ? detectors.map(({ name: _name, detected: _detected, ...detector }) => detector) : undefined);
  const model = analysis.availability;
  const oneDetector = analyseAvailability(parameters).availability;
  return {
    measured: {
      availability: measuredAvailability,
      unavailability: 1 - measuredAvailability,
      lostSecondsPerFault: run.injections.length > 0 ? ((1 - measuredAvailability) * run.protectedSeconds) / run.injections.length : null,
      referenceRate: rate,
      calibrated: { availability: calibratedAvailability, rate: run.unprotectedRate },
    },
    model: { availability: model, unavailability: 1 - model, occupancy: analysis.occupancy },
    relativeDifference: {
      availability: (model - measuredAvailability) / measuredAvailability,
      unavailability: (1 - model - (1 - measuredAvailability)) / (1 - measuredAvailability),
    },
    oneDetector: { availability: oneDetector, relativeDifference: (oneDetector - measuredAvailability) / measuredAvailability },
    parameters,
    detectors,
    sources,
  };
}

/** Per fault kind: how many, how many detected, and their mean detection latency (ms). */
export function injectionsByKind(run: RunRecord): Record<string, { injected: number; detected: number; recovered: number; masked: number; meanLatencyMs: number | null }> {
  const kinds = [...new Set(run.injections.map((i) => i.kind))].sort();
  return Object.fromEntries(kinds.map((kind) => {
    const ofKind = run.injections.filter((i) => i.kind === kind);
    const latencies = ofKind.flatMap((i) => (i.detectionLatencyMs === undefined ? [] : [i.detectionLatencyMs]));
    const masked = ofKind.filter((i) => !i.harmful && i.detectionLatencyMs === undefined).length;
    return [kind, { injected: ofKind.length, detected: latencies.length, recovered: ofKind.filter((i) => i.recovered).length, masked, meanLatencyMs: latencies.length ? mean(latencies) : null }];
  }));
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}
