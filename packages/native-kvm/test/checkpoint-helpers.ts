// What the checkpoint tests share: their guests, their run lengths, and the
// page-by-page comparison of guest memory with a checkpoint's image.
import { findWorkload, guestImagePath } from '@uckpt/guest';
import type { CheckpointMode } from '@uckpt/native-core';
import { Vm } from '../lib/index.js';
import { emulated, scaled } from './kvm.js';

// Sizes that run for about a second in the VM: enough epochs for 50
// rollbacks, and a suite that stays quick. They are the most a run does:
// where the guest does less in an epoch (KVM under emulation, e2e/kvm-rig)
// sizeForEpochs shrinks them so that a run spans about as many epochs.
export const small: Record<string, { size: number; param?: number }> = {
  hashtable: { size: 16 },
  sort: { size: 4 },
  graph: { size: 320 },
  compress: { size: 40 },
  dp: { size: 1200 },
  dirtier: { size: 80 },
};

// Copy-on-write faults cost tens of microseconds here (platform.md), so the
// same 50 rollbacks run on smaller inputs in that mode: every workload, a
// few seconds each.
// The runs' lengths vary a lot in this mode (a fault costs 30-130 us), and
// rollbacks come at most one per epoch at progress points: a short run may
// end before all 50 have come. Exactness of every single rollback is also
// checked page by page below (no write escapes, in this mode too).
// Without prediction graph rewrites ~200 pages in every epoch; at 10 ms a
// fault each (~100 us of the vCPU's time here) leaves it almost no time to
// progress, so it runs with a longer interval (and from size 96 on it does
// not progress at 30 ms either: see the README on copy-on-write).
export const smallForCow: Record<string, { size: number; param?: number; intervalMs?: number }> = {
  hashtable: { size: 3 },
  sort: { size: 2 },
  graph: { size: 48, intervalMs: 30 },
  compress: { size: 24 },
  dp: { size: 1200 },
  dirtier: { size: 32 },
};

// The longest run, in epochs, that the runs to completion below are sized to
// (sizeForEpochs): fewer under emulation, enough for its fewer rollbacks.
export const RUN_EPOCHS = emulated ? 80 : 300;
export const ROLLBACKS = scaled(50);
/** Under emulation: the workload that runs beside hashtable in each mode. */
export const emulatedPartner: Record<CheckpointMode, string> = { 'stop-and-copy': 'graph', cow: 'dirtier' };

export const modes: CheckpointMode[] = ['stop-and-copy', 'cow'];

export function startVm(workload: string, run: { size: number; param?: number; seed?: number; repeat?: number }, memoryMiB = 256): Vm {
  const vm = Vm.create({ memoryMiB });
  vm.loadImage(guestImagePath, {
    workload: findWorkload(workload).index,
    seed: run.seed ?? 1,
    size: run.size,
    repeat: run.repeat ?? 1,
    ...(run.param !== undefined && { param: run.param }),
  });
  vm.start();
  return vm;
}

export async function epochsPass(vm: Vm, count: number): Promise<void> {
  await new Promise<void>((resolve) => {
    let seen = 0;
    const off = vm.onEpoch(() => {
      if (++seen >= count) {
        off();
        resolve();
      }
    });
  });
}

/** A checkpoint taken with the guest paused, and the first `bytes` of guest memory it holds. */
export async function checkpointWithImage(vm: Vm, bytes: number): Promise<{ seq: number; memory: Buffer }> {
  vm.pause();
  const memory = vm.readMemory(0, bytes);
  const seq = await vm.checkpointNow();
  vm.resume();
  return { seq, memory };
}

/**
 * Rolls back to `checkpoint` and checks that guest memory equals its image,
 * page by page; paused, so that nothing runs between the rollback and the comparison.
 */
export async function expectExactRollback(vm: Vm, { seq, memory }: { seq: number; memory: Buffer }): Promise<void> {
  vm.pause();
  await vm.rollback(seq);
  const restored = vm.readMemory(0, memory.length);
  for (let offset = 0; offset < memory.length; offset += 4096) {
    if (!restored.subarray(offset, offset + 4096).equals(memory.subarray(offset, offset + 4096))) {
      throw new Error(`guest page ${offset / 4096} differs from checkpoint ${seq} after the rollback`);
    }
  }
  vm.resume();
}
