// Auto-tune: keeps a VM's checkpoint interval at the availability model's
// optimum within an overhead budget, as the workload's write rate changes.
//
// Every second or so the tuner fits the model to the VM's last few seconds
// of epochs (write rate, cost per checkpoint, rollback time) and asks it for
// the best interval within the budget. It moves only when the answer differs
// materially from the interval in force (hysteresis), and not before the
// interval in force has run long enough to be measured, so that noise in the
// measurements does not make it flap. The model can be wrong about what a
// checkpoint costs; the live overhead (guest progress against its calibrated
// rate) is the final word: when it exceeds the budget the interval grows,
// and the model may not shrink it again until the write rate falls.
// Shortening waits until the interval in force has been measured, and goes
// no further than what a checkpoint costs now keeps within the budget;
// lengthening to meet the budget does not wait.
import type { IntervalTunedEvent } from '../events.js';
import { limits, type CheckpointSettings } from '../config.js';
import { availabilityAt, recommendInterval } from '../model/availability.js';
import { checkpointCost, parametersFromMeasurements, type EpochWindow } from '../model/measured.js';
import { defaultAvailabilityParameters, overheadPct, workingSetCovering, type AvailabilityParameters } from '../model/parameters.js';

/** What one epoch tells the tuner. */
export interface EpochSample {
  /** Unix time, ms. */
  time: number;
  intervalMs: number;
  dirtyPages: number;
  pauseUs: number;
  faultUs: number;
}

export type TuningSettings = Pick<CheckpointSettings, 'overheadBudgetPct' | 'errorRatePerHour' | 'retention'>;

export interface TuningInput {
  now: number;
  /** The interval in force. */
  intervalMs: number;
  settings: TuningSettings;
  /** Recent epochs, oldest first (older ones are ignored). */
  epochs: readonly EpochSample[];
  rollbackDurationsUs: readonly number[];
  /** Live overhead in %, measured over `overheadWindowMs`; null until known. */
  measuredOverheadPct: number | null;
}

/** What the tuner remembers between decisions. */
export interface TuningState {
  /** When the interval in force was set (by the tuner or anyone else). */
  since: number;
  lastEvaluation: number;
  /**
   * Set when the measured overhead broke the budget: the interval it was
   * raised to, kept while the write rate stays above `rate` / `floorRelease`.
   */
  floor: { intervalMs: number; dirtyPagesPerSecond: number } | null;
}

export type TuningCause = IntervalTunedEvent['cause'];

/** What an interval-tuned event reports, before the agent stamps it with its VM and time. */
export type TuningChange = Omit<IntervalTunedEvent, 'type' | 'vmId' | 'time'>;

export const tuning = {
  /** Decisions at most this often. */
  evaluateEveryMs: 1000,
  /** The write rate comes from the epochs of this span (or the last `minEpochs`, if longer): recent enough to follow a change of phase. */
  lookbackMs: 3000,
  /** The cost of a checkpoint comes from a longer span, across intervals: their different dirty counts split it into fixed and per-page. */
  costLookbackMs: 15_000,
  /** An interval runs at least this long, and this many epochs, before the model may move it; a breach of the budget needs only the epochs. */
  minDwellMs: 2000,
  minEpochs: 3,
  /** Hysteresis: the recommendation must differ from the interval in force by this factor. */
  materialRatio: 1.25,
  /** The live overhead is judged only once its window covers the interval in force alone. */
  overheadWindowMs: 5000,
  /**
   * Percentage points the live overhead may read above the budget before it
   * counts as a breach: guest progress over a few seconds, against a rate
   * calibrated at start, wanders by about this much on its own.
   */
  measuredTolerancePct: 2,
  /** On a measured breach the interval grows by the breach ratio times this margin, at least `materialRatio`. */
  breachMargin: 1.2,
  /** A floor set by a breach is released when the write rate falls by this factor. */
  floorRelease: 1.5,
} as const;

export function initialTuningState(now: number): TuningState {
  return { since: now, lastEvaluation: -Infinity, floor: null };
}

/**
 * One decision: the change to make now, or null to keep the interval.
 * Pure: the new state is returned beside it.
 */
export function decideInterval(input: TuningInput, state: TuningState): { change: TuningChange | null; state: TuningState } {
  const { now, intervalMs: from, settings } = input;
  const keep = (next: TuningState = state) => ({ change: null, state: next });
  if (now - state.lastEvaluation < tuning.evaluateEveryMs) return keep();
  const evaluated = { ...state, lastEvaluation: now };

  // The write rate only from epochs of the interval in force, since it was
  // set: earlier ones describe another interval and perhaps another phase.
  const lookback = Math.max(tuning.lookbackMs, (tuning.minEpochs + 0.5) * from);
  const recent = input.epochs.filter((e) => e.time >= Math.max(state.since, now - lookback) && e.intervalMs === from);
  if (recent.length < tuning.minEpochs) return keep(evaluated);
  const costEpochs = input.epochs.filter((e) => e.time >= now - Math.max(tuning.costLookbackMs, lookback));
  // A rise in the write rate is believed at once (the last few epochs), a
  // fall only once the whole lookback shows it: the budget errs on the safe side.
  const parameters = [modelParameters(input, recent, costEpochs), modelParameters(input, recent.slice(-tuning.minEpochs), costEpochs)]
    .reduce((a, b) => (b.dirtyPagesPerSecond > a.dirtyPagesPerSecond ? b : a));
  const rate = parameters.dirtyPagesPerSecond;
  const budget = settings.overheadBudgetPct;
  let floor = evaluated.floor;
  if (floor && rate < floor.dirtyPagesPerSecond / tuning.floorRelease) floor = null;

  const change = (to: number, cause: TuningCause, reason: string) => {
    const bounded = clampInterval(to);
    if (bounded === from) return keep({ ...evaluated, floor });
    return {
      change: {
        from, to: bounded, cause, reason, dirtyPagesPerSecond: rate,
        modelledOverheadPct: overheadPct(parameters, bounded),
        modelledAvailability: availabilityAt(parameters, bounded),
        measuredOverheadPct: input.measuredOverheadPct, overheadBudgetPct: budget,
      },
      state: { ...evaluated, floor, since: now },
    };
  };

  // Reality first: the model may price a checkpoint too low.
  const measured = input.measuredOverheadPct;
  if (measured !== null && measured > budget + tuning.measuredTolerancePct && now - state.since >= tuning.overheadWindowMs) {
    const factor = Math.max(tuning.materialRatio, (measured / budget) * tuning.breachMargin);
    const to = clampInterval(Math.ceil(from * factor));
    if (to === from) return keep({ ...evaluated, floor });
    const result = change(to, 'measured-over-budget',
      `measured overhead ${measured.toFixed(2)} % exceeds the budget of ${budget} % at ${from} ms (the model predicted ${overheadPct(parameters, from).toFixed(2)} %): lengthened`);
    return { ...result, state: { ...result.state, floor: { intervalMs: to, dirtyPagesPerSecond: rate } } };
  }

  const recommended = recommendInterval(parameters, budget);
  const writes = `${Math.round(rate)} pages/s written`;
  if (recommended === null) {
    return change(limits.intervalMs.max, 'model-over-budget',
      `${writes}: no interval keeps the modelled overhead within ${budget} %; the longest costs least`);
  }
  const target = floor ? Math.max(recommended, floor.intervalMs) : recommended;
  // The budget is broken now, on paper or by what the epochs' pauses and
  // faults took: no dwell. The epochs' own cost corrects a model that
  // thinks the working set smaller than it is.
  const modelledNow = overheadPct(parameters, from);
  const pausedNow = checkpointTimePct(recent);
  if (pausedNow > budget || modelledNow > budget) {
    const needed = Math.max(target, Math.ceil(from * (pausedNow / budget) * tuning.breachMargin));
    if (needed > from) {
      return change(needed, 'model-over-budget',
        `${writes}: checkpoints at ${from} ms take ${pausedNow.toFixed(2)} % of the guest's time (the model says ${modelledNow.toFixed(2)} %), over the budget of ${budget} %`);
    }
  }
  // A shorter interval dirties no more pages per checkpoint than this one,
  // so a checkpoint there costs at most what one costs here. The model can
  // price it far lower: when every epoch dirties the whole working set,
  // whatever its length, pages over the interval understate the write rate.
  // So shortening stops where today's cost per checkpoint would break the
  // budget; the next step is taken once the shorter interval is measured.
  const provenWithinBudget = Math.ceil(from * (pausedNow / budget));
  const to = target < from ? Math.max(target, provenWithinBudget) : target;
  const ratio = Math.max(to / from, from / to);
  if (ratio < tuning.materialRatio || now - state.since < tuning.minDwellMs) return keep({ ...evaluated, floor });
  // Shortening raises the overhead: only from an interval that has been
  // measured within the budget (once the VM is calibrated).
  if (to < from && input.measuredOverheadPct !== null && now - state.since < tuning.overheadWindowMs) return keep({ ...evaluated, floor });
  const held = floor && target === floor.intervalMs && recommended < target ? ` (held at ${target} ms since the measured overhead broke the budget there)` : '';
  const stepped = to > target ? ` (a step towards it: checkpoints at ${from} ms cost ${(pausedNow * from / 100).toFixed(2)} ms each, which would be ${budget} % of ${to} ms)` : '';
  return change(to, 'model',
    `${writes}: the model's best interval within ${budget} % overhead is ${recommended} ms${held}${stepped}`);
}

/** The share of the guest's time its epochs spent in checkpoint pauses and write faults, %. */
export function checkpointTimePct(epochs: readonly EpochSample[]): number {
  const spent = epochs.reduce((sum, e) => sum + e.pauseUs + e.faultUs, 0) / 1000;
  const run = epochs.reduce((sum, e) => sum + e.intervalMs, 0);
  return run > 0 ? (100 * spent) / run : 0;
}

/** The model, fitted to the VM's recent epochs: what auto-tune and the availability panel agree on. */
export function modelParameters(
  input: Pick<TuningInput, 'intervalMs' | 'settings' | 'rollbackDurationsUs'>,
  rateEpochs: readonly EpochSample[],
  costEpochs: readonly EpochSample[] = rateEpochs,
): AvailabilityParameters {
  const measured = { ...parametersFromMeasurements({ windows: windowsOf(rateEpochs), rollbackDurationsUs: input.rollbackDurationsUs }), ...checkpointCost(windowsOf(costEpochs)) };
  const parameters: AvailabilityParameters = {
    ...defaultAvailabilityParameters,
    errorRatePerHour: input.settings.errorRatePerHour,
    retention: input.settings.retention,
    intervalMs: input.intervalMs,
  };
  for (const name of ['rollbackMs', 'dirtyPagesPerSecond', 'checkpointOverheadMs', 'copyUsPerPage'] as const) {
    const value = measured[name];
    if (value !== undefined) parameters[name] = value;
  }
  if (measured.workingSetPagesAtLeast !== undefined) {
    parameters.workingSetPages = workingSetCovering(parameters.workingSetPages, measured.workingSetPagesAtLeast);
  }
  return parameters;
}

/** Epochs as the windows the model's fit takes: one per interval, with the median pause. */
function windowsOf(epochs: readonly EpochSample[]): EpochWindow[] {
  const byInterval = new Map<number, EpochSample[]>();
  for (const epoch of epochs) byInterval.set(epoch.intervalMs, [...(byInterval.get(epoch.intervalMs) ?? []), epoch]);
  return [...byInterval].map(([intervalMs, group]) => {
    const pauses = group.map((e) => e.pauseUs).sort((a, b) => a - b);
    return {
      epochs: group.length,
      intervalMs,
      dirtyPagesMean: group.reduce((sum, e) => sum + e.dirtyPages, 0) / group.length,
      dirtyPagesMax: Math.max(...group.map((e) => e.dirtyPages)),
      pauseUsP50: pauses[pauses.length >> 1]!,
      faultUs: group.reduce((sum, e) => sum + e.faultUs, 0),
    };
  });
}

function clampInterval(intervalMs: number): number {
  return Math.min(limits.intervalMs.max, Math.max(limits.intervalMs.min, Math.round(intervalMs)));
}

/**
 * The tuner of one VM: keeps its recent epochs and rollbacks, and its state
 * between decisions. The agent feeds it and applies what it decides.
 */
export class AutoTuner {
  #epochs: EpochSample[] = [];
  #rollbackDurationsUs: number[] = [];
  #state: TuningState;

  constructor(now = Date.now()) {
    this.#state = initialTuningState(now);
  }

  observeEpoch(epoch: EpochSample): void {
    this.#epochs.push(epoch);
    const horizon = epoch.time - Math.max(tuning.costLookbackMs, (tuning.minEpochs + 1) * limits.intervalMs.max);
    while (this.#epochs.length > 0 && this.#epochs[0]!.time < horizon) this.#epochs.shift();
  }

  observeRollback(durationUs: number): void {
    this.#rollbackDurationsUs.push(durationUs);
    if (this.#rollbackDurationsUs.length > 100) this.#rollbackDurationsUs.shift();
  }

  /** The interval was set from outside (an operator, or auto-tune switched on): judge it afresh. */
  restart(now: number): void {
    this.#state = initialTuningState(now);
  }

  decide(now: number, intervalMs: number, settings: TuningSettings, measuredOverheadPct: number | null): TuningChange | null {
    const { change, state } = decideInterval(
      { now, intervalMs, settings, epochs: this.#epochs, rollbackDurationsUs: this.#rollbackDurationsUs, measuredOverheadPct },
      this.#state,
    );
    this.#state = state;
    return change;
  }
}
