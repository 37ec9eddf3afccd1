// Shared by the native-kvm tests that need a real /dev/kvm (the gate itself is kvm-gate.ts).
import { findWorkload, guestImagePath } from '@uckpt/guest';
import type { CheckpointConfig } from '@uckpt/native-core';
import { Vm, type VmOptions } from '../lib/index.js';
import { emulated, slowdown } from './kvm-gate.js';

export { describeKvm, emulated, hasKvm, itKvm, slowdown } from './kvm-gate.js';

/**
 * How many rollbacks (or epochs) a test asks for here: `n` on a real host,
 * a fifth of it (at least 5) under emulation, where a test with all of them
 * takes minutes. What is checked stays the same; only how often.
 */
export function scaled(n: number): number {
  return emulated ? Math.max(5, Math.round(n / 5)) : n;
}

/**
 * The fewest rollbacks a run asked for `wanted` must make. Under emulation
 * the guest's vCPU and the harness's event loop share one emulated CPU: a
 * run's last rollback points can pass, and the run end, while the harness
 * is not scheduled (measured there: 6 of 10 in a run of 99 epochs, whose
 * last nine of 13 progress units came in its last six). There half of them.
 */
export function leastRollbacks(wanted: number): number {
  return emulated ? Math.ceil(wanted / 2) : wanted;
}

export { seededRandom } from '@uckpt/native-core';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 5 ms; throws naming `what` after `timeoutMs` (times `slowdown` under emulation). */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs * slowdown;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export interface SizedRun {
  workload: string;
  seed: number;
  /** The most the run may do; the sizes in the tests were chosen for about a second in the VM. */
  size: number;
  param?: number;
  memoryMiB: number;
  dirtyTracking?: VmOptions['dirtyTracking'];
}

const sized = new Map<string, Promise<number>>();

/**
 * Sizes a run by epochs, not by its amount of work: a size up to `run.size`
 * whose run spans from a third of `epochs` to `epochs` epochs under
 * `checkpointing` on this machine (`run.size` itself when its run spans no
 * more). A test that rolls back at points of a run's progress needs the run
 * to span enough epochs for its rollbacks, and to end before the test times
 * out. The sizes in the tests span about 100 epochs of 10 ms where they were
 * chosen (PVM, platform.md); where KVM itself runs under emulation (QEMU's
 * software SVM, e2e/kvm-rig) compute is a few times slower but every fault
 * and exit 10-40x dearer, the guest does far less in an epoch, and the same
 * sizes spanned thousands of epochs: the tests ran past their timeouts.
 * Whole runs under the same checkpointing are counted at a few sizes, a
 * quarter of the last while none fits, then halfway (on a log scale) between
 * one that fits and one too big: the epochs of a run grow faster than its
 * size (graph in the rig: 5-30 epochs at size 24, 35-111 at 32, 221-251 at
 * 40, 600-1070 at 64, as many again at the same size). Memoized
 * per run and configuration, apart from the retention, which changes little
 * of an epoch's work.
 */
export function sizeForEpochs(run: SizedRun, checkpointing: CheckpointConfig, epochs: number): Promise<number> {
  const key = JSON.stringify([run, { ...checkpointing, retention: undefined }, epochs]);
  let found = sized.get(key);
  if (!found) {
    found = (async () => {
      let size = run.size;
      let fits = 0; // the largest size seen to fit
      let tooBig = Infinity; // the smallest seen not to
      for (let round = 0; round < 8; round++) {
        const perRun = await epochsPerRun({ ...run, size }, checkpointing, epochs);
        if (perRun <= epochs) {
          fits = size;
          if (size === run.size || perRun >= epochs / 3) return size;
        } else {
          tooBig = size;
        }
        const next = fits === 0 ? Math.max(1, Math.floor(size / 4)) : Math.round(Math.sqrt(fits * tooBig));
        if (next <= fits || next >= tooBig) break;
        size = next;
      }
      return fits || size;
    })();
    sized.set(key, found);
  }
  return found;
}

/**
 * The epochs one run of `run` spans under `checkpointing`; more than `most`
 * once it has passed that many, or when it has not ended within 30 s, 15 s
 * under emulation (a run that slow is too big, whatever its epochs: there
 * copy-on-write faults can make epochs come slowly).
 */
async function epochsPerRun(run: SizedRun, checkpointing: CheckpointConfig, most: number): Promise<number> {
  const vm = Vm.create({ memoryMiB: run.memoryMiB, ...(run.dirtyTracking && { dirtyTracking: run.dirtyTracking }) });
  try {
    vm.loadImage(guestImagePath, {
      workload: findWorkload(run.workload).index,
      seed: run.seed,
      size: run.size,
      ...(run.param !== undefined && { param: run.param }),
    });
    let epochs = 0;
    vm.onEpoch((e) => (epochs += 1 + e.coalesced));
    vm.enableCheckpointing(checkpointing);
    vm.start();
    const deadline = Date.now() + (emulated ? 15_000 : 30_000);
    await until(() => vm.state !== 'running' || epochs > most || Date.now() > deadline, `a run of ${run.workload} or ${most} epochs`, 60_000);
    if (vm.state === 'running') return most + 1;
    if (vm.exit?.reason !== 'done') throw new Error(`sizing ${run.workload}: the VM is ${vm.state}: ${vm.exit?.message}`);
    return Math.max(epochs, 1);
  } finally {
    vm.destroy();
  }
}
