// Runs a workload to completion in a fresh KVM VM, optionally checkpointed
// and rolled back at seeded random moments, and sums up what happened.
import { nsToUs, percentiles, seededRandom, type CheckpointConfig, type CheckpointCosts, type CheckpointMode } from '@uckpt/native-core';
import { findWorkload, formatChecksum, guestImagePath, type RunResult, type WorkloadRun } from '@uckpt/guest';
import { Vm, type ExitInfo } from './vm.js';
import { existsSync } from 'node:fs';

export interface VmRunOptions extends WorkloadRun {
  memoryMiB?: number;
  vcpus?: number;
  dirtyTracking?: 'bitmap' | 'ring';
  /** Absent: no checkpointing. */
  checkpointing?: CheckpointConfig;
  /** Rollbacks at seeded random points of the run to seeded random retained checkpoints. */
  rollbacks?: number;
  onConsole?: (line: string) => void;
  /** Called with the VM once it runs, e.g. to pause it now and then. */
  onStart?: (vm: Vm) => void;
}

export interface CheckpointedRunResult extends RunResult {
  mode: 'off' | CheckpointMode;
  /** Why the requested 'cow' ran as 'stop-and-copy'; absent otherwise. */
  fallbackReason?: string;
  dirtyTracking?: 'manual-protect' | 'get-and-clear' | 'ring';
  intervalMs?: number;
  retention?: number;
  epochs: number;
  /** How long, over the run, due checkpoints waited past their time (EpochStats.lateNs), in ms. */
  lateMs: number;
  pauseUs: { p50: number; p99: number };
  dirtyPagesPerEpoch: number;
  /** The 99th percentile of dirty pages per epoch: about what the longest pauses copied. */
  dirtyPagesP99: number;
  /**
   * Pauses of the epochs that dirtied at most twice the median: the pause at
   * the run's usual dirty rate, without a phase that dirties far more.
   */
  usualPauseUs: { p50: number; p99: number };
  rollbacks: number;
  rollbackUs: { p50: number; p99: number };
  pagesRestoredPerRollback: number;
  storeBytesMax: number;
  predictor?: string;
  /** Whether stop-and-copy copied ahead while the guest ran. */
  precopy?: boolean;
  /** Write faults taken per epoch: dirty-log faults (written pages not predicted hot), or copy-on-write faults. */
  faultsPerEpoch: number;
  /** Time the guest lost to those faults per epoch, in us (measured in cow mode, estimated otherwise). */
  faultUsPerEpoch: number;
  /**
   * The least that tracking the writes could have cost per epoch, in us, in
   * faults and comparisons, whatever the prediction (see EpochStats.leastTrackingNs);
   * null unless stop-and-copy ran with the cost predictor.
   */
  leastTrackingUsPerEpoch: number | null;
  /** Median pause without its copying and re-arming (stopping, harvesting, resuming), in us. */
  fixedPauseUs: number | null;
  /** Pages copied while the guest was paused, per epoch. */
  pagesCopiedPerEpoch: number;
  /** Pages copied ahead while the guest ran (stop-and-copy), per epoch. */
  pagesPrecopiedPerEpoch: number;
  /** Why checkpointing stopped during the run (the guest ran on unprotected); null if it did not. */
  lastError: string | null;
  /** Warnings the VM gave, e.g. that copy-on-write fell back to stop-and-copy. */
  warnings: string[];
  /** Cost estimates at the end of the run. */
  costs?: CheckpointCosts;
  /** Of the pages predicted hot, the share that was written; of the written pages, the share predicted. */
  precision: number | null;
  recall: number | null;
  /** Epoch records JavaScript was too slow to receive (coalesced natively). */
  coalescedEpochs: number;
}

export class GuestRunError extends Error {
  constructor(
    readonly exit: ExitInfo,
    readonly console: string[],
  ) {
    super(`the guest did not finish: ${exit.message}`);
  }
}

/** Waits for the checkpoint that enabling takes (the guest has not started, so it comes at once). */
async function firstCheckpoint(vm: Vm): Promise<void> {
  for (const started = Date.now(); vm.listCheckpoints().length === 0; ) {
    const { lastError } = vm.stats();
    if (lastError) throw new Error(`checkpointing could not start: ${lastError}`);
    if (Date.now() - started > 30_000) throw new Error('checkpointing did not take its first checkpoint within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

export async function runInVm(options: VmRunOptions): Promise<CheckpointedRunResult> {
  const { index } = findWorkload(options.workload);
  if (!existsSync(guestImagePath)) {
    throw new Error(`${guestImagePath} is missing: build it with \`bash scripts/setup.sh\` or \`pnpm build:native\``);
  }
  const rollbacksWanted = options.rollbacks ?? 0;
  if (rollbacksWanted > 0 && !options.checkpointing) throw new Error('rollbacks need checkpointing');
  const vm = Vm.create({
    memoryMiB: options.memoryMiB ?? 1024,
    vcpus: options.vcpus ?? 1,
    dirtyTracking: options.dirtyTracking ?? 'bitmap',
  });
  const lines: string[] = [];
  const warnings: string[] = [];
  let checkpointError: string | null = null;
  const pauses: number[] = [];
  const fixedPauses: number[] = [];
  const rollbackDurations: number[] = [];
  const dirtyCounts: number[] = [];
  let storeBytesMax = 0;
  let pagesRestored = 0;
  let coalesced = 0;
  let predicted = 0;
  let hits = 0;
  let misses = 0;
  let faults = 0;
  let faultNs = 0;
  let leastTrackingNs = 0;
  let lateNs = 0;
  let pagesCopied = 0;
  let pagesPrecopied = 0;
  let rollbackError: Error | undefined;
  try {
    vm.on('checkpoint-warning', (message) => warnings.push(message));
    vm.on('checkpoint-error', (message) => (checkpointError ??= message));
    vm.on('console', (line) => {
      lines.push(line);
      options.onConsole?.(line);
    });
    vm.loadImage(guestImagePath, { workload: index, seed: options.seed, size: options.size ?? 0, param: options.param ?? 0 });

    const random = seededRandom(options.seed * 7919 + 1);
    // Rollback points as fractions of the run's progress, in order, leaving the last
    // 15% of the run for the epochs that the final rollbacks need.
    const points = Array.from({ length: rollbacksWanted }, () => 0.02 + 0.83 * random()).sort((a, b) => a - b);
    let rollingBack = false;
    const rollbackDue = () => {
      if (points.length === 0 || vm.state !== 'running') return false;
      const { progress, progressTotal } = vm.mailbox();
      return progressTotal > 0 && progress >= points[0]! * progressTotal;
    };
    /**
     * One rollback to a random retained checkpoint; false when the run ended
     * meanwhile. The guest waits for it where it passed its point, so that
     * the rollback lands there and not wherever the guest has got to by the
     * time the epoch loop takes it up (late on a loaded host, and under
     * emulation).
     */
    const rollBackOnce = async (): Promise<boolean> => {
      try {
        vm.pause();
      } catch (error) {
        if (vm.state !== 'running') return false;
        throw error;
      }
      try {
        for (;;) {
          const retained = vm.listCheckpoints();
          const index = Math.floor(random() * retained.length);
          const target = retained[index];
          if (!target) return false;
          try {
            // The newest is retired by the next epoch, often before the rollback
            // reaches the epoch loop where epochs come fast for the host (retention
            // 1 under emulation: nearly every time); 'latest' always finds one.
            const result = await vm.rollback(index === retained.length - 1 ? 'latest' : target.seq);
            rollbackDurations.push(nsToUs(result.durationNs));
            pagesRestored += result.pagesRestored;
            points.shift();
            return true;
          } catch (error) {
            if (vm.state !== 'paused') return false; // the run ended meanwhile
            // The epoch loop retired it meanwhile: choose again.
            if (!/is not retained/.test((error as Error).message)) throw error;
          }
        }
      } finally {
        if (vm.state === 'paused') vm.resume();
      }
    };
    // Points the guest has passed are all taken now, not one per epoch: on a
    // loaded host epochs come late, and a backlog would outlast the run.
    const maybeRollBack = async () => {
      if (rollingBack || !rollbackDue()) return;
      rollingBack = true;
      try {
        while (rollbackDue() && (await rollBackOnce()));
      } catch (error) {
        rollbackError = error as Error;
      } finally {
        rollingBack = false;
      }
    };
    vm.onEpoch((epoch) => {
      pauses.push(nsToUs(epoch.pauseNs));
      const rearmAlone = epoch.mode === 'cow' ? epoch.rearmNs : 0;
      fixedPauses.push(nsToUs(epoch.pauseNs - epoch.copyNs - rearmAlone));
      dirtyCounts.push(epoch.dirtyPages);
      storeBytesMax = Math.max(storeBytesMax, epoch.storeBytes);
      coalesced += epoch.coalesced;
      predicted += epoch.predicted;
      hits += epoch.truePositives;
      misses += epoch.misses;
      faults += epoch.faults;
      faultNs += epoch.faultNsEstimate;
      leastTrackingNs += epoch.leastTrackingNs;
      lateNs += epoch.lateNs;
      pagesCopied += epoch.pagesCopied;
      pagesPrecopied += epoch.pagesPrecopied;
      void maybeRollBack();
    });

    if (options.checkpointing) {
      vm.enableCheckpointing(options.checkpointing);
      await firstCheckpoint(vm); // protected from the guest's first instruction on
    }
    const started = process.hrtime.bigint();
    vm.start();
    options.onStart?.(vm);
    // The points are watched between epochs too: where epochs come late (a
    // loaded host, KVM under emulation) a run could pass its last points,
    // and end, between two of them.
    const watch = rollbacksWanted > 0 ? setInterval(() => void maybeRollBack(), 2) : undefined;
    const exit = await vm.waitForExit().finally(() => clearInterval(watch));
    const runtimeMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (rollbackError) throw rollbackError;
    if (exit.reason !== 'done' || exit.result === undefined) throw new GuestRunError(exit, lines);
    const progressUnits = vm.mailbox().progress;
    const stats = options.checkpointing ? vm.stats() : undefined;
    const dirty = percentiles(dirtyCounts);
    return {
      workload: options.workload,
      on: 'kvm',
      seed: options.seed,
      checksum: formatChecksum(exit.result),
      runtimeMs,
      progressUnits,
      progressRate: progressUnits / (runtimeMs / 1000),
      mode: stats ? stats.mode : 'off',
      ...(stats?.fallbackReason && { fallbackReason: stats.fallbackReason }),
      ...(stats && {
        costs: stats.costs,
        dirtyTracking: stats.dirtyTracking,
        intervalMs: stats.intervalMs,
        retention: stats.retention,
        predictor: stats.predictor,
        precopy: stats.precopy,
      }),
      epochs: pauses.length,
      lateMs: lateNs / 1e6,
      pauseUs: percentiles(pauses),
      dirtyPagesPerEpoch: dirtyCounts.length ? dirtyCounts.reduce((a, b) => a + b, 0) / dirtyCounts.length : 0,
      dirtyPagesP99: dirty.p99,
      usualPauseUs: percentiles(pauses.filter((_, i) => dirtyCounts[i]! <= 2 * dirty.p50)),
      rollbacks: rollbackDurations.length,
      rollbackUs: percentiles(rollbackDurations),
      pagesRestoredPerRollback: rollbackDurations.length ? pagesRestored / rollbackDurations.length : 0,
      storeBytesMax: Math.max(storeBytesMax, stats?.storeBytes ?? 0),
      faultsPerEpoch: pauses.length ? faults / pauses.length : 0,
      faultUsPerEpoch: pauses.length ? nsToUs(faultNs) / pauses.length : 0,
      leastTrackingUsPerEpoch:
        pauses.length && stats?.mode === 'stop-and-copy' && stats.predictor === 'cost' ? nsToUs(leastTrackingNs) / pauses.length : null,
      pagesCopiedPerEpoch: pauses.length ? pagesCopied / pauses.length : 0,
      pagesPrecopiedPerEpoch: pauses.length ? pagesPrecopied / pauses.length : 0,
      fixedPauseUs: fixedPauses.length ? percentiles(fixedPauses).p50 : null,
      precision: predicted ? hits / predicted : null,
      recall: hits + misses ? hits / (hits + misses) : null,
      coalescedEpochs: coalesced + (stats?.coalescedEpochs ?? 0),
      warnings,
      lastError: checkpointError ?? stats?.lastError ?? null,
    };
  } finally {
    vm.destroy();
  }
}
