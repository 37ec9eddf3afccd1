// Checkpoints and in-place rollback on a real KVM guest, proven exact by
// the guest's own checksums: every mode and tracking variant against the
// same oracle. Prediction and copy-on-write have files of their own.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { runOnHost } from '@uckpt/guest';
import type { PredictorName } from '@uckpt/native-core';
import { runInVm } from '../lib/index.js';
import { ROLLBACKS, RUN_EPOCHS, emulatedPartner, epochsPass, modes, small, smallForCow, startVm } from './checkpoint-helpers.js';
import { describeKvm, emulated, leastRollbacks, scaled, sizeForEpochs, sleep, slowdown, until } from './kvm.js';

const MAILBOX_PFN = 1; // written at every progress tick: in every undo log

describeKvm.each(modes)('checkpoints and rollback (%s)', (mode) => {
  // Copy-on-write also runs every workload under the cost predictor, which
  // spares it most faults: on the usual inputs.
  // Stop-and-copy copies ahead by default; it also runs without.
  const variants: { retention: number; predictor: PredictorName; sizes: typeof smallForCow; precopy?: boolean }[] = [8, 1, 32].map(
    (retention) => ({ retention, predictor: 'off', sizes: mode === 'cow' ? smallForCow : small }),
  );
  if (mode === 'cow') variants.push({ retention: 8, predictor: 'cost', sizes: small });
  if (mode === 'stop-and-copy') variants.push({ retention: 8, predictor: 'off', sizes: small, precopy: false });
  for (const [variant, { retention, predictor, sizes, precopy }] of variants.entries()) {
    const predicting = (predictor === 'off' ? '' : `, ${predictor} predictor`) + (precopy === false ? ', not copying ahead' : '');
    for (const [workload, { intervalMs: given = 10, ...run }] of Object.entries(sizes)) {
      // Under emulation the variants run on hashtable, and one other workload
      // per mode beside it: the whole matrix would take over an hour there
      // (every workload runs in every mode on a host with KVM).
      if (emulated && workload !== 'hashtable' && (variant > 0 || workload !== emulatedPartner[mode])) continue;
      // And retention's variants in stop-and-copy only: the ring is the same
      // in both modes, and each copy-on-write run takes minutes there.
      if (emulated && mode === 'cow' && retention !== 8) continue;
      // A copy-on-write fault costs 10-40x more under emulation: at 10 ms the
      // faults of an epoch can outlast it, and the guest barely progresses
      // (compress did not finish in 3 minutes). Longer epochs let it run.
      const intervalMs = emulated && mode === 'cow' ? Math.max(given, 50) : given;
      it(`${workload} (size ≤ ${run.size}): ${ROLLBACKS} random rollbacks every ${intervalMs} ms epoch, retention ${retention}${predicting}, end exactly as unprotected`, async () => {
        const checkpointing = { intervalMs, retention, mode, predictor, ...(precopy !== undefined && { precopy }) };
        const size = await sizeForEpochs({ workload, seed: 5, ...run, memoryMiB: 256 }, checkpointing, RUN_EPOCHS);
        const [host, guest] = await Promise.all([
          runOnHost({ workload, seed: 5, ...run, size }),
          runInVm({ workload, seed: 5, ...run, size, memoryMiB: 256, checkpointing, rollbacks: ROLLBACKS }),
        ]);
        expect(guest.mode).toBe(mode);
        expect(guest.lastError).toBeNull();
        // First, so that a wrong rollback is told apart from a run that
        // ended early for another reason.
        expect(guest.checksum).toBe(host.checksum);
        // Copy-on-write runs are short and vary a lot here: the run may end
        // between two epochs before its last rollback points come.
        if (mode === 'cow') {
          expect(guest.rollbacks).toBeGreaterThan(0);
        } else {
          expect(guest.rollbacks, `rollbacks in a run of ${guest.epochs} epochs`).toBeGreaterThanOrEqual(leastRollbacks(ROLLBACKS));
          expect(guest.rollbacks).toBeLessThanOrEqual(ROLLBACKS);
          expect(guest.epochs).toBeGreaterThan(ROLLBACKS);
        }
      });
    }
  }

  it('after a rollback the guest is exactly as it was at the checkpoint: memory and registers', async () => {
    const vm = startVm('dirtier', { size: 16, repeat: 0 }, 64);
    try {
      vm.enableCheckpointing({ intervalMs: 20, retention: 32, mode });
      await epochsPass(vm, 3);
      vm.pause();
      const memory = vm.readMemory(0, 64 << 20);
      const regs = vm.getVcpuState(0).regs;
      const progress = vm.mailbox().progress;
      const seq = await vm.checkpointNow();
      vm.resume();
      await epochsPass(vm, 10);
      expect(vm.mailbox().progress).toBeGreaterThan(progress);
      vm.pause();
      const result = await vm.rollback(seq);
      expect(result.seq).toBe(seq);
      expect(result.pagesRestored).toBeGreaterThan(0);
      expect(vm.mailbox().progress).toBe(progress);
      expect(vm.getVcpuState(0).regs).toEqual(regs);
      expect(vm.readMemory(0, 64 << 20).equals(memory)).toBe(true);
      expect(vm.listCheckpoints().at(-1)!.seq).toBe(seq);
      vm.resume();
      await epochsPass(vm, 2);
      expect(vm.state).toBe('running');
    } finally {
      vm.destroy();
    }
  });

  it('writes the VMM makes into guest memory are dirty pages too', async () => {
    const vm = startVm('dp', { size: 100000 }, 64);
    try {
      vm.enableCheckpointing({ intervalMs: 20, mode });
      await epochsPass(vm, 2);
      const page = 40 << 20; // far above what dp touches
      vm.pause();
      const seq = await vm.checkpointNow();
      const before = vm.readMemory(page, 4096);
      vm.writeMemory(page, Buffer.alloc(4096, 0xab));
      vm.resume();
      await epochsPass(vm, 3); // the write is now in an undo log, not the open epoch
      await vm.rollback(seq);
      expect(vm.readMemory(page, 4096).equals(before)).toBe(true);
    } finally {
      vm.destroy();
    }
  });

  it('a corrupted stored page refuses that rollback, the VM runs on, an older checkpoint still works', async () => {
    const run = { workload: 'dirtier', seed: 3, size: 16 };
    // Four runs in a row, each ending with the same checksum: long enough
    // (about a second) for the steps below.
    const vm = startVm(run.workload, { ...run, repeat: 4 }, 64);
    try {
      // Longer epochs under emulation, so that the guest still writes its
      // mailbox in most of them (it does so every few ms of its work).
      vm.enableCheckpointing({ intervalMs: 20 * slowdown, retention: 8, mode });
      await epochsPass(vm, 5);
      vm.pause(); // timed epochs stop: the ring holds still
      const ring = vm.listCheckpoints();
      // The newest checkpoint but one whose undo log holds the mailbox page
      // (the guest wrote it in that epoch: it does so every few ms of work).
      let bad = 0;
      for (const candidate of ring.slice(1, -1).reverse()) {
        try {
          vm.testCorruptStoredPage(candidate.seq, MAILBOX_PFN);
          bad = candidate.seq;
          break;
        } catch (error) {
          if (!/holds no stored copy/.test((error as Error).message)) throw error;
        }
      }
      expect(bad).toBeGreaterThan(0);
      const refused = vm.rollback(bad);
      await expect(refused).rejects.toThrow(
        `rollback: checkpoint ${bad} holds a corrupted copy of guest page ${MAILBOX_PFN} (checksum mismatch): rollback to ${bad} refused`,
      );
      await expect(refused).rejects.toMatchObject({ code: 'UCKPT_ROLLBACK_REFUSED' });
      expect(vm.listCheckpoints().find((c) => c.seq === bad)!.verified).toBe(false);
      expect(vm.state).toBe('paused');
      vm.resume();
      await epochsPass(vm, 2);
      expect(vm.state).toBe('running');
      // An older checkpoint that does not need the corrupted copy: one whose
      // own undo log holds page 1 (the guest wrote its mailbox in that epoch).
      let result: { seq: number } | undefined;
      for (const candidate of ring.filter((c) => c.seq < bad).reverse()) {
        try {
          result = await vm.rollback(candidate.seq);
          break;
        } catch (error) {
          if ((error as { code?: string }).code !== 'UCKPT_ROLLBACK_REFUSED') throw error;
        }
      }
      expect(result).toBeDefined();
      expect(result!.seq).toBeLessThan(bad);
      const exit = await vm.waitForExit();
      expect(exit.reason).toBe('done');
      expect(exit.result!.toString(16).padStart(16, '0')).toBe((await runOnHost(run)).checksum);
    } finally {
      vm.destroy();
    }
  });

  it(`${scaled(2000)} epochs keep RSS within the store bound plus a small constant`, async () => {
    const storeMiB = 48;
    const vm = startVm('dirtier', { size: 16, repeat: 0 }, 64);
    const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
    try {
      await sleep(200); // the guest has touched its working set
      const before = rssMiB();
      vm.enableCheckpointing({ intervalMs: 1, retention: 16, storeMiB, mode });
      let peak = 0;
      let epochs = 0;
      await new Promise<void>((resolve) => {
        const off = vm.onEpoch((e) => {
          epochs += 1 + e.coalesced;
          if (epochs % 100 === 0) peak = Math.max(peak, rssMiB());
          if (epochs >= scaled(2000)) {
            off();
            resolve();
          }
        });
      });
      peak = Math.max(peak, rssMiB());
      const stats = vm.stats();
      expect(stats.lastError).toBeNull();
      expect(stats.storeBytes).toBeLessThanOrEqual(storeMiB << 20);
      expect(peak - before).toBeLessThan(storeMiB + 24);
    } finally {
      vm.destroy();
    }
  });

  it('changing interval, retention and enabled state while running keeps the result exact', async () => {
    // Smaller with copy-on-write under emulation, where its 2-5 ms epochs' faults took minutes.
    const run = { workload: 'sort', seed: 8, size: emulated && mode === 'cow' ? 1 : 3 };
    const vm = startVm(run.workload, run, 256);
    try {
      vm.enableCheckpointing({ intervalMs: 5, retention: 4, mode });
      const steps: (() => void | Promise<unknown>)[] = [
        () => vm.configureCheckpointing({ intervalMs: 20 }),
        () => vm.rollback('latest'),
        () => vm.configureCheckpointing({ retention: 1 }),
        () => vm.rollback('latest'),
        () => vm.configureCheckpointing({ retention: 16, intervalMs: 2 }),
        () => vm.disableCheckpointing(),
        // The epoch loop applies it: at once, unless it is in an epoch.
        () => until(() => vm.listCheckpoints().length === 0, 'disabling to empty the ring'),
        async () => {
          vm.enableCheckpointing({ intervalMs: 10, mode });
          await epochsPass(vm, 1); // the first checkpoint, taken on enabling, is listed by then
        },
        async () => {
          vm.pause(); // holds the ring still, so the oldest stays retained
          await vm.rollback(vm.listCheckpoints()[0]!.seq);
          vm.resume();
        },
        () => vm.configureCheckpointing({ enabled: false }),
        () => vm.configureCheckpointing({ enabled: true, intervalMs: 3 }),
      ];
      for (const step of steps) {
        if (vm.state !== 'running') break;
        await step();
        await sleep(30);
      }
      expect(() => vm.configureCheckpointing({ intervalMs: 0 })).toThrow('intervalMs must be from 1 to 10000, got 0');
      expect(() => vm.configureCheckpointing({ retention: 5000 })).toThrow('retention must be from 1 to 1024, got 5000');
      const exit = await vm.waitForExit();
      expect(exit.reason).toBe('done');
      expect(exit.result!.toString(16).padStart(16, '0')).toBe((await runOnHost(run)).checksum);
    } finally {
      vm.destroy();
    }
  });
});

describeKvm('dirty rings instead of the dirty bitmap', () => {
  it(`track the same writes: ${scaled(30)} rollbacks still end exactly as unprotected`, async () => {
    const checkpointing = { intervalMs: 10 };
    const sizing = { workload: 'hashtable', seed: 4, size: 16, memoryMiB: 256, dirtyTracking: 'ring' } as const;
    const run = { workload: 'hashtable', seed: 4, size: await sizeForEpochs(sizing, checkpointing, RUN_EPOCHS) };
    const [host, guest] = await Promise.all([
      runOnHost(run),
      runInVm({ ...run, memoryMiB: 256, dirtyTracking: 'ring', checkpointing, rollbacks: scaled(30) }),
    ]);
    expect(guest.dirtyTracking).toBe('ring');
    expect(guest.rollbacks, `rollbacks in a run of ${guest.epochs} epochs`).toBeGreaterThanOrEqual(leastRollbacks(scaled(30)));
    expect(guest.rollbacks).toBeLessThanOrEqual(scaled(30));
    expect(guest.checksum).toBe(host.checksum);
  });
});
