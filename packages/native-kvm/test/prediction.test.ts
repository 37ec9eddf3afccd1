// Dirty-page prediction and copying ahead on a real KVM guest: no write
// escapes a checkpoint, page by page, whatever the predictor keeps hot.
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { findWorkload, guestImagePath, runOnHost } from '@uckpt/guest';
import type { PredictorName } from '@uckpt/native-core';
import { Vm, runInVm } from '../lib/index.js';
import { ROLLBACKS, RUN_EPOCHS, checkpointWithImage, epochsPass, expectExactRollback, modes, startVm } from './checkpoint-helpers.js';
import { describeKvm, emulated, leastRollbacks, sizeForEpochs, sleep, until } from './kvm.js';

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
    expect(guest.rollbacks).toBeGreaterThanOrEqual(leastRollbacks(ROLLBACKS));
    expect(guest.rollbacks).toBeLessThanOrEqual(ROLLBACKS);
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
        // More retained under emulation, where the epochs' records come late:
        // the checkpoint to roll back to was retired before they were counted.
        vm.enableCheckpointing({ intervalMs: 20, retention: emulated ? 64 : 16, predictor, ...(predictor === 'cost' && { faultNs: 500 }) });
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
    // Under emulation (e2e/kvm-rig) the guest writes some 70 pages an epoch:
    // each page of that table would be written once in a thousand epochs, and
    // nothing is worth keeping hot. There a 1 MiB table is written all over
    // epoch after epoch. And a comparison costs about as much as a fault
    // there (a page's copy 9.5 us, a dirty-log fault 23-38 us): a fault is
    // priced at ten times the measured one, so that a comparison is as much
    // cheaper than a fault as on PVM (0.2 us against 2.2 us).
    const tableMiB = emulated ? 1 : 256;
    const variants: { faultNs?: number; busy?: number }[] = emulated
      ? [{ faultNs: 400_000 }, { faultNs: 400_000, busy: 2 }]
      : [{}, { faultNs: 1500 }, { busy: 2 }];
    for (const { faultNs, busy } of variants) {
      const vm = startVm('hashtable', { size: tableMiB, repeat: 0 }, emulated ? 64 : 512);
      const others = Array.from({ length: busy ?? 0 }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
      try {
        vm.enableCheckpointing({ intervalMs: 50, retention: 4, predictor: 'cost', ...(faultNs !== undefined && { faultNs }) });
        const epochs: { truePositives: number; misses: number; leastTrackingNs: number; lateNs: number }[] = [];
        vm.onEpoch((e) => epochs.push(e));
        await epochsPass(vm, 80);
        const last = epochs.slice(-20);
        const written = last.reduce((sum, e) => sum + e.truePositives + e.misses, 0);
        const hot = last.reduce((sum, e) => sum + e.truePositives, 0);
        // Thousands of pages an epoch (far fewer under emulation, where the guest writes slower).
        expect(written / last.length).toBeGreaterThan(emulated ? 30 : 10_000);
        expect(hot / written, `recall with faultNs ${faultNs ?? 'calibrated'}, ${others.length} busy processes beside, at costs ${JSON.stringify(vm.stats().costs)}`).toBeGreaterThan(0.5);
        // Each page written again an epoch after its last write: kept hot, it need cost nothing.
        // (Not so under emulation, where each page of the small table is written every few epochs.)
        const leastTrackingNs = last.reduce((sum, e) => sum + e.leastTrackingNs, 0) / last.length;
        expect(leastTrackingNs).toBeGreaterThanOrEqual(0);
        if (!emulated) expect(leastTrackingNs).toBeLessThan(written / last.length * 10);
        // The first checkpoints of the whole table wait for 65,536 fresh store
        // frames to be backed (about 1.4-8 us each here) and checksummed: they begin late, and say so.
        if (!emulated) expect(Math.max(...epochs.map((e) => e.lateNs))).toBeGreaterThan(25e6);
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
      const epochs: { time: number; pagesPrecopied: number }[] = [];
      vm.onEpoch((e) => epochs.push(e));
      // Counted from the second pause after now: the epoch under way copies
      // ahead as it began (where epochs' records come late, as under
      // emulation, counting records would count that one).
      const copiedAheadOver = async (count: number) => {
        const now = Date.now();
        await until(() => epochs.filter((e) => e.time > now).length > count, `${count + 1} epochs`);
        const from = epochs.findIndex((e) => e.time > now) + 1;
        return epochs.slice(from, from + count).reduce((sum, e) => sum + e.pagesPrecopied, 0);
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
