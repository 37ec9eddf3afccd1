// Copy-on-write checkpoints on a real KVM guest: the fallback where write
// protection is missing, the measured fault costs, switching modes while
// running, and no writer left blocked.
import { expect, it } from 'vitest';
import { runOnHost } from '@uckpt/guest';
import { runInVm } from '../lib/index.js';
import { RUN_EPOCHS, epochsPass, startVm } from './checkpoint-helpers.js';
import { describeKvm, sizeForEpochs, sleep, slowdown } from './kvm.js';

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
