// Checkpoints and in-place rollback on a real KVM guest, proven exact by
// the guest's own checksums. Long: every mode, predictor and tracking
// variant against the same oracle, sharing its guests and helpers.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { findWorkload, guestImagePath, runOnHost } from '@uckpt/guest';
import type { CheckpointMode, PredictorName } from '@uckpt/native-core';
import { Vm, runInVm } from '../lib/index.js';
import { describeKvm, emulated, scaled, sizeForEpochs, sleep, slowdown, until } from './kvm.js';

// Sizes that run for about a second in the VM: enough epochs for 50
// rollbacks, and a suite that stays quick. They are the most a run does:
// where the guest does less in an epoch (KVM under emulation, e2e/kvm-rig)
// sizeForEpochs shrinks them so that a run spans about as many epochs.
const small: Record<string, { size: number; param?: number }> = {
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
const smallForCow: Record<string, { size: number; param?: number; intervalMs?: number }> = {
  hashtable: { size: 3 },
  sort: { size: 2 },
  graph: { size: 48, intervalMs: 30 },
  compress: { size: 24 },
  dp: { size: 1200 },
  dirtier: { size: 32 },
};

// The longest run, in epochs, that the runs to completion below are sized to
// (sizeForEpochs): fewer under emulation, enough for its fewer rollbacks.
const RUN_EPOCHS = emulated ? 120 : 300;
const ROLLBACKS = scaled(50);
/** Under emulation: the workload that runs beside hashtable in each mode. */
const emulatedPartner: Record<CheckpointMode, string> = { 'stop-and-copy': 'graph', cow: 'dirtier' };

const MAILBOX_PFN = 1; // written at every progress tick: in every undo log

function startVm(workload: string, run: { size: number; param?: number; seed?: number; repeat?: number }, memoryMiB = 256): Vm {
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

async function epochsPass(vm: Vm, count: number): Promise<void> {
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
async function checkpointWithImage(vm: Vm, bytes: number): Promise<{ seq: number; memory: Buffer }> {
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
async function expectExactRollback(vm: Vm, { seq, memory }: { seq: number; memory: Buffer }): Promise<void> {
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

const modes: CheckpointMode[] = ['stop-and-copy', 'cow'];

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
          expect(guest.rollbacks).toBe(ROLLBACKS);
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
    const run = { workload: 'sort', seed: 8, size: 3 };
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
    expect(guest.rollbacks).toBe(scaled(30));
    expect(guest.checksum).toBe(host.checksum);
  });
});

describeKvm.each(modes)('dirty-page prediction (%s)', (mode) => {
  for (const predictor of (mode === 'cow' ? ['off', 'history', 'frontier', 'cost'] : ['history', 'frontier', 'cost']) as PredictorName[]) {
    it(`${predictor}: no write escapes: after rollbacks guest memory equals the checkpoint, page by page`, async () => {
      const vm = startVm('graph', { size: 256, repeat: 0 }, 128);
      try {
        vm.enableCheckpointing({ intervalMs: 10, retention: 32, predictor, mode });
        let hot = 0;
        vm.onEpoch((e) => (hot += e.truePositives));
        for (let round = 0; round < 5; round++) {
          await epochsPass(vm, 4);
          const checkpoint = await checkpointWithImage(vm, 128 << 20);
          await epochsPass(vm, 3 + round);
          await expectExactRollback(vm, checkpoint);
        }
        if (predictor !== 'off') expect(hot).toBeGreaterThan(0); // hot pages were written without faults, and still restored exactly
        expect(vm.stats().predictor).toBe(predictor);
        expect(vm.stats().mode).toBe(mode);
      } finally {
        vm.destroy();
      }
    });
  }

  it('random rollbacks with the cost predictor end exactly as unprotected', async () => {
    const checkpointing = { intervalMs: 10, predictor: 'cost', mode } as const;
    const size = await sizeForEpochs({ workload: 'graph', seed: 6, size: 320, memoryMiB: 256 }, checkpointing, RUN_EPOCHS);
    const run = { workload: 'graph', seed: 6, size };
    const [host, guest] = await Promise.all([
      runOnHost(run),
      runInVm({ ...run, memoryMiB: 256, checkpointing, rollbacks: ROLLBACKS }),
    ]);
    expect(guest.rollbacks).toBe(ROLLBACKS);
    expect(guest.precision).toBeGreaterThan(0);
    expect(guest.checksum).toBe(host.checksum);
  });

  it.skipIf(mode === 'cow')('is refused with dirty rings, which cannot leave pages writable', () => {
    const vm = Vm.create({ memoryMiB: 32, dirtyTracking: 'ring' });
    try {
      vm.loadImage(guestImagePath, { workload: findWorkload('dp').index, size: 1 });
      expect(() => vm.enableCheckpointing({ predictor: 'cost' })).toThrow(/prediction needs dirty tracking that can leave pages writable/);
      expect(() => vm.enableCheckpointing({ predictor: 'psychic' as 'cost' })).toThrow(/predictor must be "history", "frontier" or "cost"/);
    } finally {
      vm.destroy();
    }
  });
});

describeKvm('copying ahead (stop-and-copy)', () => {
  // Scattered writes over most of a guest's RAM: pages written early in an
  // epoch are rarely written again before its checkpoint.
  const scattered = { size: 96, param: 16, repeat: 0 };

  for (const predictor of ['off', 'history', 'cost'] as PredictorName[]) {
    it(`${predictor}: the pause copies only pages written since; no write escapes: page by page after rollbacks`, async () => {
      const vm = startVm('dirtier', scattered, 128);
      try {
        // Each page is written again within an epoch about 1 time in 100:
        // at the measured costs the cost model is near its tie (keeping a
        // page hot costs a comparison, ~0.2 us, protecting it a fault,
        // ~2.2 us) and may keep the written pages hot, which are then not
        // copied ahead. A cheaper fault settles it: this test is about the copies.
        vm.enableCheckpointing({ intervalMs: 20, retention: 16, predictor, ...(predictor === 'cost' && { faultNs: 500 }) });
        let ahead = 0, inPause = 0;
        vm.onEpoch((e) => {
          expect(e.pagesCopied + e.pagesPrecopied).toBe(e.dirtyPages);
          ahead += e.pagesPrecopied;
          inPause += e.pagesCopied;
        });
        for (let round = 0; round < 4; round++) {
          await epochsPass(vm, 3);
          const checkpoint = await checkpointWithImage(vm, 128 << 20);
          // Rollbacks land at different points of an epoch: before, between and after its copies ahead.
          await epochsPass(vm, 2 + round);
          await sleep(3 + 4 * round);
          await expectExactRollback(vm, checkpoint);
        }
        expect(vm.stats().precopy).toBe(true);
        // Most of each epoch's pages were copied while the guest ran: where the
        // copier has a CPU of its own. In the rig one emulated CPU runs both.
        if (!emulated) expect(ahead).toBeGreaterThan(inPause);
        expect(ahead).toBeGreaterThan(0);
      } finally {
        vm.destroy();
      }
    });
  }

  it('cost: pages rewritten epoch after epoch end up hot, not copied ahead and faulted on again', async () => {
    // A 256 MiB table written all over: once each page has been touched,
    // nearly every page is written in every epoch. Copying ahead protects what it copies, so
    // a page becomes hot only when the cost model already keeps written
    // pages hot; with a compare cost misread from a few hot pages it never
    // did, and every write faulted. Priced at 1500 ns, a fault looked cheap
    // enough against the hazard of a guest that spends its epochs faulting
    // (a quarter of the table an epoch) to keep it so: the hazard must be
    // read per epoch of the guest's progress. Beside two busy processes
    // (other guests on the host) the epochs show fewer writes again, while
    // a fault costs the guest as much: its progress must be read from its
    // vCPU's CPU time, and a comparison's cost from the comparing threads',
    // not from the clock.
    for (const { faultNs, busy } of [{}, { faultNs: 1500 }, { busy: 2 }]) {
      const vm = startVm('hashtable', { size: 256, repeat: 0 }, 512);
      const others = Array.from({ length: busy ?? 0 }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
      try {
        vm.enableCheckpointing({ intervalMs: 50, retention: 4, predictor: 'cost', faultNs });
        const epochs: { truePositives: number; misses: number; leastTrackingNs: number; lateNs: number }[] = [];
        vm.onEpoch((e) => epochs.push(e));
        await epochsPass(vm, 80);
        const last = epochs.slice(-20);
        const written = last.reduce((sum, e) => sum + e.truePositives + e.misses, 0);
        const hot = last.reduce((sum, e) => sum + e.truePositives, 0);
        // Thousands of pages an epoch (far fewer under emulation, where the guest writes slower).
        expect(written / last.length).toBeGreaterThan(emulated ? 100 : 10_000);
        expect(hot / written, `recall with faultNs ${faultNs ?? 'calibrated'}, ${others.length} busy processes beside`).toBeGreaterThan(0.5);
        // Each page written again an epoch after its last write: kept hot, it need cost nothing.
        const leastTrackingNs = last.reduce((sum, e) => sum + e.leastTrackingNs, 0) / last.length;
        expect(leastTrackingNs).toBeGreaterThanOrEqual(0);
        expect(leastTrackingNs).toBeLessThan(written / last.length * 10);
        // The first checkpoints of the whole table wait for 65,536 fresh store
        // frames to be backed (about 1.4-8 us each here) and checksummed: they begin late, and say so.
        expect(Math.max(...epochs.map((e) => e.lateNs))).toBeGreaterThan(25e6);
      } finally {
        for (const other of others) other.kill();
        vm.destroy();
      }
    }
  }, 90_000);

  it('is off when asked, and with dirty rings; a bad value is refused', async () => {
    for (const [options, create] of [
      [{ precopy: false }, {}],
      [{ predictor: 'off' as const }, { dirtyTracking: 'ring' as const }],
    ] as const) {
      const vm = Vm.create({ memoryMiB: 128, ...create });
      try {
        vm.loadImage(guestImagePath, { workload: findWorkload('dirtier').index, size: scattered.size, param: scattered.param, repeat: 0 });
        vm.start();
        expect(() => vm.enableCheckpointing({ precopy: 'yes' as unknown as boolean })).toThrow('enableCheckpointing: precopy must be a boolean');
        vm.enableCheckpointing({ intervalMs: 20, ...options });
        let ahead = 0, epochs = 0;
        vm.onEpoch((e) => ((ahead += e.pagesPrecopied), epochs++));
        await epochsPass(vm, 10);
        expect(ahead).toBe(0);
        expect(vm.stats().precopy).toBe(false);
      } finally {
        vm.destroy();
      }
    }
  });

  it('turns off and on again while running; a bad value changes nothing', async () => {
    const vm = Vm.create({ memoryMiB: 128 });
    try {
      vm.loadImage(guestImagePath, { workload: findWorkload('dirtier').index, size: scattered.size, param: scattered.param, repeat: 0 });
      vm.start();
      vm.enableCheckpointing({ intervalMs: 20 });
      const ahead: number[] = [];
      vm.onEpoch((e) => ahead.push(e.pagesPrecopied));
      const copiedAheadOver = async (epochs: number) => {
        await epochsPass(vm, 1); // the epoch under way began before the change
        const from = ahead.length;
        await epochsPass(vm, epochs);
        return ahead.slice(from).reduce((sum, pages) => sum + pages, 0);
      };
      expect(await copiedAheadOver(5)).toBeGreaterThan(0);
      vm.configureCheckpointing({ precopy: false });
      expect(vm.stats().precopy).toBe(false);
      expect(await copiedAheadOver(5)).toBe(0);
      expect(() => vm.configureCheckpointing({ precopy: 1 as unknown as boolean, intervalMs: 30 })).toThrow('configureCheckpointing: precopy must be a boolean');
      expect(vm.stats().intervalMs).toBe(20);
      vm.configureCheckpointing({ precopy: true });
      expect(vm.stats().precopy).toBe(true);
      expect(await copiedAheadOver(5)).toBeGreaterThan(0);
    } finally {
      vm.destroy();
    }
  });
});

describeKvm('copy-on-write', () => {
  it('falls back to stop-and-copy where write protection is unavailable, says why, and stays exact', async () => {
    const checkpointing = { intervalMs: 10, mode: 'cow', testNoWriteProtect: true } as const;
    const size = await sizeForEpochs({ workload: 'sort', seed: 9, size: 3, memoryMiB: 256 }, checkpointing, RUN_EPOCHS);
    const run = { workload: 'sort', seed: 9, size };
    const reasons = new Set<string | null>();
    const modes = new Set<string>();
    const [host, guest] = await Promise.all([
      runOnHost(run),
      runInVm({
        ...run,
        memoryMiB: 256,
        checkpointing,
        rollbacks: 10,
        onStart: (vm) => {
          vm.onEpoch((e) => {
            reasons.add(e.fallbackReason);
            modes.add(e.mode);
          });
        },
      }),
    ]);
    expect(guest.mode).toBe('stop-and-copy');
    expect(guest.fallbackReason).toMatch(/testNoWriteProtect/);
    expect([...modes]).toEqual(['stop-and-copy']);
    expect([...reasons]).toEqual([guest.fallbackReason]);
    expect(guest.warnings).toEqual([`copy-on-write is not available, checkpointing uses stop-and-copy: ${guest.fallbackReason}`]);
    expect(guest.checksum).toBe(host.checksum);
  });

  it('measures the dirty-log fault cost once, and the cost model uses it unless faultNs is given', () => {
    const measured = startVm('dirtier', { size: 16, repeat: 0 }, 64);
    const configured = startVm('dirtier', { size: 16, repeat: 0 }, 64);
    try {
      const warnings: string[] = [];
      measured.on('checkpoint-warning', (message) => warnings.push(message));
      measured.enableCheckpointing({ intervalMs: 10 });
      const { costs } = measured.stats();
      expect(warnings).toEqual([]); // a probe that could not run is said
      expect(costs.dirtyLogFaultNsCalibrated).toBeGreaterThan(0);
      expect(costs.dirtyLogFaultNsCalibrated).toBeLessThan(1e6);
      expect(costs.dirtyLogFaultNs).toBe(costs.dirtyLogFaultNsCalibrated);
      configured.enableCheckpointing({ intervalMs: 10, faultNs: 1234 });
      expect(configured.stats().costs).toMatchObject({ dirtyLogFaultNs: 1234, dirtyLogFaultNsCalibrated: costs.dirtyLogFaultNsCalibrated });
    } finally {
      measured.destroy();
      configured.destroy();
    }
  });

  it('a VM with write protection reports cow, the measured fault costs, and faults per epoch', async () => {
    const vm = startVm('dirtier', { size: 16, repeat: 0 }, 64);
    try {
      const warnings: string[] = [];
      vm.on('checkpoint-warning', (message) => warnings.push(message));
      vm.enableCheckpointing({ intervalMs: 10, mode: 'cow' });
      let faults = 0;
      vm.onEpoch((e) => {
        expect(e.mode).toBe('cow');
        faults += e.faults;
      });
      await epochsPass(vm, 10);
      const stats = vm.stats();
      expect(warnings).toEqual([]);
      expect(stats).toMatchObject({ mode: 'cow', requestedMode: 'cow', fallbackReason: null });
      expect(stats.costs.cowFaultNsCalibrated).toBeGreaterThan(0);
      expect(stats.costs.copyNsCalibrated).toBeGreaterThan(0);
      expect(faults).toBeGreaterThan(0);
      expect(stats.faults).toBeGreaterThanOrEqual(faults);
    } finally {
      vm.destroy();
    }
  });

  it('switching modes while running starts over and stays exact', async () => {
    const run = { workload: 'dirtier', seed: 2, size: 40 };
    const vm = startVm(run.workload, run, 256);
    try {
      vm.enableCheckpointing({ intervalMs: 10, mode: 'stop-and-copy' });
      for (const mode of ['cow', 'stop-and-copy', 'cow'] as const) {
        await epochsPass(vm, 3);
        if (vm.state !== 'running') break;
        vm.configureCheckpointing({ mode });
        await epochsPass(vm, 3);
        if (vm.state !== 'running') break;
        expect(vm.stats().mode).toBe(mode);
        await vm.rollback('latest');
      }
      const exit = await vm.waitForExit();
      expect(exit.reason).toBe('done');
      expect(exit.result!.toString(16).padStart(16, '0')).toBe((await runOnHost(run)).checksum);
    } finally {
      vm.destroy();
    }
  });

  it('destroying or disabling with writes in flight leaves no writer blocked', async () => {
    for (let i = 0; i < 3; i++) {
      const vm = startVm('hashtable', { size: 16, repeat: 0 }, 64);
      vm.enableCheckpointing({ intervalMs: 2, mode: 'cow' });
      await epochsPass(vm, 5 + i);
      if (i === 1) {
        vm.disableCheckpointing();
        await sleep(20);
        const work = () => vm.mailbox().runsDone * 1e9 + vm.mailbox().progress;
        const before = work();
        await sleep(300 * slowdown);
        expect(work()).toBeGreaterThan(before); // the guest runs on, unprotected
        vm.writeMemory(40 << 20, Buffer.alloc(4096, 1)); // and so can the VMM
      }
      vm.destroy(); // returns: no vCPU stays blocked on a protected page
    }
  });
});
