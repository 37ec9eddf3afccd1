// What `uckpt bench` runs, and in which order: each workload unprotected,
// then at each interval in each mode without and with prediction, then the
// extra runs; then the dirtier sweep and the pause cells. Runs alternate so
// that every overhead is a ratio measured under the same conditions.
import type { BenchMode, BenchPredictor, BenchSpec } from './summary.js';

export const benchSeed = 1;
export const benchRetention = 8;
export const benchMemoryMiB = 1024;
/** The interval of the extra runs: the other copy-thread count, rollbacks, predictors, dirty ring. */
export const extraIntervalMs = 50;
/** The interval of the summary line and of the dirtier sweep. */
export const summaryIntervalMs = 50;
/** The dirtier sweep: working sets (MiB) x pages dirtied per ~1 ms unit. */
export const fullSweep = { workingSetsMiB: [16, 64, 256], pagesPerUnit: [4, 32, 256] };
export const quickSweep = { workingSetsMiB: [16, 64], pagesPerUnit: [4, 64] };
/**
 * With the sweep, for the pause targets: scattered writes over most of the
 * 1 GiB guest, about 1,000 and 5,000 dirty pages per epoch here, in the
 * default mode only (10-20 s each): long enough that p99 is not the first
 * pauses.
 */
export const pauseCells = [
  { workingSetMiB: 768, pagesPerUnit: 28 },
  { workingSetMiB: 768, pagesPerUnit: 250 },
];

export interface BenchOptions {
  workloads: string[];
  /** Each workload's size argument (its default times --size-scale). */
  sizes: Record<string, number>;
  intervals: number[];
  repeat: number;
  rollbacks: number;
  sizeScale: number;
  modes: BenchMode[];
  /** The predictor of the "with prediction" rows, or none. */
  prediction: BenchPredictor | null;
  /** The extra predictor runs. */
  predictors: BenchPredictor[];
  maxSlowdown: number;
  sweep: { workingSetsMiB: number[]; pagesPerUnit: number[] } | null;
  ring: boolean;
  precopy: boolean;
  quick: boolean;
  copyThreads: number;
}

/** The other copy-thread count (1 or 2), for the run that shows what copy threads are worth. */
export function otherCopyThreads(copyThreads: number): number {
  return copyThreads === 1 ? 2 : 1;
}

/** Every run, in order. `withDirtier`: the image has the dirtier workload (the sweep needs it). */
export function benchPlan(options: BenchOptions, withDirtier: boolean): BenchSpec[] {
  const { workloads, repeat, intervals, modes, prediction, quick, precopy, rollbacks, predictors, ring, sweep, copyThreads } = options;
  // Per workload, per repetition: off, then each interval in every mode
  // (without, then with prediction), then the extras; then the sweep.
  const plan: BenchSpec[] = [];
  for (const workload of workloads) {
    for (let repetition = 0; repetition < repeat; repetition++) {
      plan.push({ workload, repetition, kind: 'off' });
      for (const intervalMs of intervals) {
        for (const mode of modes) {
          plan.push({ workload, repetition, kind: 'interval', mode, intervalMs, copyThreads });
          if (prediction) plan.push({ workload, repetition, kind: 'interval', mode, intervalMs, copyThreads, predictor: prediction });
        }
      }
      if (!quick) {
        plan.push({ workload, repetition, kind: 'copy-threads', mode: 'stop-and-copy', intervalMs: extraIntervalMs, copyThreads: otherCopyThreads(copyThreads) });
        if (precopy && modes.includes('stop-and-copy')) {
          plan.push(noPrecopySpec({ workload, repetition, copyThreads, prediction }));
        }
      }
      if (rollbacks > 0) {
        for (const mode of modes) {
          plan.push({ workload, repetition, kind: 'rollback', mode, intervalMs: extraIntervalMs, copyThreads, rollbacks });
        }
      }
      for (const predictor of predictors) {
        if (predictor === prediction && intervals.includes(extraIntervalMs)) continue; // in the interval rows already
        for (const mode of modes) {
          plan.push({ workload, repetition, kind: 'predictor', mode, intervalMs: extraIntervalMs, copyThreads, predictor });
        }
      }
      if (ring) plan.push({ workload, repetition, kind: 'ring', mode: 'stop-and-copy', intervalMs: extraIntervalMs, copyThreads });
    }
  }
  if (sweep && withDirtier) {
    for (const workingSetMiB of sweep.workingSetsMiB) {
      for (const pagesPerUnit of sweep.pagesPerUnit) {
        const cell = { workingSetMiB, pagesPerUnit };
        plan.push({ workload: 'dirtier', repetition: 0, kind: 'off', sweep: cell });
        for (const mode of modes) {
          plan.push({ workload: 'dirtier', repetition: 0, kind: 'interval', mode, intervalMs: summaryIntervalMs, copyThreads, sweep: cell });
          if (prediction) {
            plan.push({
              workload: 'dirtier',
              repetition: 0,
              kind: 'interval',
              mode,
              intervalMs: summaryIntervalMs,
              copyThreads,
              predictor: prediction,
              sweep: cell,
            });
          }
        }
      }
    }
    for (const cell of modes.includes('stop-and-copy') ? pauseCells : []) {
      plan.push({ workload: 'dirtier', repetition: 0, kind: 'off', sweep: cell });
      plan.push({
        workload: 'dirtier',
        repetition: 0,
        kind: 'interval',
        mode: 'stop-and-copy',
        intervalMs: summaryIntervalMs,
        copyThreads,
        ...(prediction && { predictor: prediction }),
        sweep: cell,
      });
      if (precopy) plan.push(noPrecopySpec({ workload: 'dirtier', repetition: 0, copyThreads, prediction, sweep: cell }));
    }
  }

  return plan;
}

/** The benchmark's configuration as its JSON report records it. */
export function benchConfig(options: BenchOptions, plan: BenchSpec[]) {
  const { workloads, intervals, repeat, rollbacks, sizeScale, sizes, modes, prediction, quick, maxSlowdown, sweep, copyThreads, predictors, ring, precopy } = options;
  return {
    workloads,
    intervalsMs: intervals,
    repeat,
    rollbacks,
    sizeScale,
    sizes,
    seed: benchSeed,
    memoryMiB: benchMemoryMiB,
    vcpus: 1,
    modes,
    prediction,
    quick,
    maxSlowdown,
    sweep: sweep && { ...sweep, pauseCells: pauseCells, intervalMs: summaryIntervalMs, sizeIsWorkingSet: true },
    retention: benchRetention,
    copyThreads,
    dirtyTracking: 'bitmap',
    extraCopyThreadsRun: { intervalMs: extraIntervalMs, copyThreads: otherCopyThreads(copyThreads) },
    rollbackRun: rollbacks > 0 ? { intervalMs: extraIntervalMs, copyThreads, rollbacks } : null,
    predictorRuns: { intervalMs: extraIntervalMs, copyThreads, predictors, modes },
    ringRun: ring ? { intervalMs: extraIntervalMs, copyThreads, dirtyTracking: 'ring' } : null,
    precopy,
    noPrecopyRuns: precopy ? { intervalMs: extraIntervalMs, mode: 'stop-and-copy', predictor: prediction, perWorkload: !quick, pauseCells: true } : null,
    order:
      'per workload, per repetition: off, each interval in each mode without then with prediction, the copy-threads run, the no-precopy run, ' +
      'the rollback runs, each other predictor run, the ring run; then the dirtier sweep cells (off, then each mode), ' +
      'then the pause cells (off, then stop-and-copy with prediction, then the same not copying ahead)',
    overhead: 'median over repetitions of runtimeMs / runtimeMs(off, same repetition) - 1, in %',
    floor:
      '(most dirty pages per epoch of any stop-and-copy run x their median copy ns + their least fixed pause) / interval',
    cap: `a checkpointed run still going at ${maxSlowdown} x the unprotected runtime is stopped: its overhead is a lower bound`,
    plannedRuns: plan.length,
  };
}

function noPrecopySpec(run: {
  workload: string;
  repetition: number;
  copyThreads: number;
  prediction: BenchPredictor | null;
  sweep?: BenchSpec['sweep'];
}): BenchSpec {
  return {
    workload: run.workload,
    repetition: run.repetition,
    kind: 'no-precopy',
    mode: 'stop-and-copy',
    intervalMs: run.sweep ? summaryIntervalMs : extraIntervalMs,
    copyThreads: run.copyThreads,
    ...(run.prediction && { predictor: run.prediction }),
    ...(run.sweep && { sweep: run.sweep }),
  };
}
