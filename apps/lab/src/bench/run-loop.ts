// Runs the benchmark's plan: each run in a fresh KVM VM, capped at
// --max-slowdown times its unprotected runtime, and checked against the
// unprotected run's checksum (a mismatch is a correctness bug, and ends the
// benchmark). Runs are appended to `runs` as they finish, so that a caller
// keeps what was measured when a later run fails.
import { GuestRunError, runInVm, type CheckpointedRunResult } from '@uckpt/native-kvm';
import { benchMemoryMiB, benchRetention, benchSeed } from './plan.js';
import type { BenchProgress } from './progress.js';
import { describeSpec, type BenchRun, type BenchSpec } from './summary.js';

export interface RunLoopOptions {
  sizes: Record<string, number>;
  repeat: number;
  maxSlowdown: number;
  precopy: boolean;
}

export async function runBenchPlan(plan: BenchSpec[], options: RunLoopOptions, progress: BenchProgress, runs: BenchRun[]): Promise<void> {
  const { sizes, repeat, maxSlowdown, precopy } = options;
  const expected = new Map<string, { checksum: string; by: string }>();
  const offMs = new Map<string, number>();
  const cellKey = (spec: BenchSpec) =>
    `${spec.workload}|${spec.repetition}|${spec.sweep ? `${spec.sweep.workingSetMiB}x${spec.sweep.pagesPerUnit}` : ''}`;
  for (const [i, spec] of plan.entries()) {
    progress.start(i);
    const t0 = performance.now();
    const capMs = spec.kind === 'off' || spec.kind === 'rollback' ? undefined : (offMs.get(cellKey(spec)) ?? 0) * maxSlowdown;
    let capped = false;
    let capTimer: NodeJS.Timeout | undefined;
    let result: CheckpointedRunResult;
    try {
      result = await runInVm({
        workload: spec.workload,
        seed: benchSeed,
        size: spec.sweep ? spec.sweep.workingSetMiB : sizes[spec.workload]!,
        ...(spec.sweep && { param: spec.sweep.pagesPerUnit }),
        memoryMiB: benchMemoryMiB,
        dirtyTracking: spec.kind === 'ring' ? 'ring' : 'bitmap',
        ...(spec.kind !== 'off' && {
          checkpointing: {
            mode: spec.mode ?? 'stop-and-copy',
            intervalMs: spec.intervalMs!,
            retention: benchRetention,
            copyThreads: spec.copyThreads!,
            predictor: spec.predictor ?? 'off',
            precopy: precopy && spec.kind !== 'no-precopy',
          },
        }),
        rollbacks: spec.rollbacks ?? 0,
        onStart: (vm) => {
          progress.watch(vm);
          if (capMs) {
            capTimer = setTimeout(() => {
              capped = true;
              vm.stop();
            }, capMs);
          }
        },
      }).finally(() => {
        clearTimeout(capTimer);
        progress.unwatch();
      });
    } catch (error) {
      if (!capped || !(error instanceof GuestRunError)) throw error;
      result = cappedResult(spec, performance.now() - t0);
    }
    const wallMs = performance.now() - t0;
    if (spec.kind === 'off') offMs.set(cellKey(spec), result.runtimeMs);
    runs.push({
      ...result,
      repetition: spec.repetition,
      kind: spec.kind,
      copyThreads: spec.copyThreads ?? null,
      rollbacksRequested: spec.rollbacks ?? null,
      wallMs,
      requestedMode: spec.kind === 'off' ? null : (spec.mode ?? 'stop-and-copy'),
      sweep: spec.sweep ?? null,
      capped,
      fixedPauseUs: result.fixedPauseUs,
    });
    progress.finish(i, wallMs);
    if (capped) continue;
  
    const label = `${spec.workload} ${describeSpec(spec)}${repeat > 1 ? ` (repetition ${spec.repetition + 1})` : ''}`;
    // A run that silently ran as something else would be measured under the wrong name.
    if (spec.kind !== 'off' && (result.predictor ?? 'off') !== (spec.predictor ?? 'off')) {
      throw new Error(`${label}: the VM reports predictor "${result.predictor ?? 'none'}", not "${spec.predictor ?? 'off'}"`);
    }
    if (spec.kind !== 'off' && (result.dirtyTracking === 'ring') !== (spec.kind === 'ring')) {
      throw new Error(`${label}: the VM reports dirty tracking "${result.dirtyTracking ?? 'none'}"`);
    }
    const referenceKey = cellKey({ ...spec, repetition: 0 });
    const reference = expected.get(referenceKey);
    if (!reference) {
      expected.set(referenceKey, { checksum: result.checksum, by: label });
    } else if (result.checksum !== reference.checksum) {
      throw new Error(
        `CHECKSUM MISMATCH: ${label} gave ${result.checksum}, but ${reference.by} gave ${reference.checksum}. ` +
          'Same workload, seed and size must give the same result with or without checkpointing: this is a correctness bug.',
      );
    }
  }
}

/** What a run stopped at the slowdown cap is recorded as: its runtime so far, no statistics. */
function cappedResult(spec: BenchSpec, runtimeMs: number): CheckpointedRunResult {
  return {
    workload: spec.workload,
    on: 'kvm',
    seed: benchSeed,
    checksum: '',
    runtimeMs,
    progressUnits: 0,
    progressRate: 0,
    mode: spec.mode ?? 'stop-and-copy',
    intervalMs: spec.intervalMs!,
    retention: benchRetention,
    predictor: spec.predictor ?? 'off',
    epochs: 0,
    lateMs: 0,
    pauseUs: { p50: 0, p99: 0 },
    dirtyPagesPerEpoch: 0,
    dirtyPagesP99: 0,
    usualPauseUs: { p50: 0, p99: 0 },
    rollbacks: 0,
    rollbackUs: { p50: 0, p99: 0 },
    pagesRestoredPerRollback: 0,
    storeBytesMax: 0,
    faultsPerEpoch: 0,
    faultUsPerEpoch: 0,
    leastTrackingUsPerEpoch: null,
    pagesCopiedPerEpoch: 0,
    pagesPrecopiedPerEpoch: 0,
    fixedPauseUs: null,
    precision: null,
    recall: null,
    coalescedEpochs: 0,
    warnings: [],
    lastError: null,
  };
}
