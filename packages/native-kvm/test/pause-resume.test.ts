// Pausing must stop the guest dead and resuming must continue it exactly:
// 50 pauses at random moments leave the checksum unchanged.
import { expect, it } from 'vitest';
import { runOnHost } from '@uckpt/guest';
import { runInVm, type Vm } from '../lib/index.js';
import { describeKvm, emulated, seededRandom, sleep } from './kvm.js';

describeKvm('pause and resume', () => {
  it('50 pauses at random moments leave the checksum unchanged', async () => {
    const random = seededRandom(42);
    let pauses = 0;
    let frozenChecks = 0;
    const pauser = async (vm: Vm) => {
      while (pauses < 50 && vm.state === 'running') {
        await sleep(5 + random() * 40);
        if (vm.state !== 'running') break;
        vm.pause();
        pauses++;
        if (vm.state !== 'paused') break; // the run ended while we paused it
        const before = vm.mailbox().progress;
        const regs = vm.getVcpuState(0).regs;
        await sleep(random() * 10);
        // Nothing moves while paused, and a full state write-back is harmless.
        expect(vm.mailbox().progress).toBe(before);
        expect(vm.getVcpuState(0).regs).toEqual(regs);
        vm.setVcpuState(0, vm.getVcpuState(0));
        frozenChecks++;
        vm.resume();
      }
    };
    let pausing: Promise<void> = Promise.resolve();
    // An eighth of the default size under emulation (e2e/kvm-rig), where the default took two minutes.
    const run = { workload: 'hashtable', seed: 3, ...(emulated && { size: 32 }) };
    const [host, guest] = await Promise.all([
      runOnHost(run),
      runInVm({ ...run, onStart: (vm) => (pausing = pauser(vm)) }),
    ]);
    await pausing;
    expect(pauses).toBe(50);
    expect(frozenChecks).toBe(50);
    expect(guest.checksum).toBe(host.checksum);
  });

  it('pauses every vCPU of a multi-vCPU VM', async () => {
    let paused = 0;
    const [host, guest] = await Promise.all([
      runOnHost({ workload: 'sort', seed: 5, size: 4 }),
      runInVm({
        workload: 'sort',
        seed: 5,
        size: 4,
        vcpus: 4,
        onStart: async (vm) => {
          for (let i = 0; i < 10 && vm.state === 'running'; i++) {
            await sleep(10);
            if (vm.state !== 'running') break;
            vm.pause();
            if (vm.state === 'paused') {
              for (let cpu = 0; cpu < 4; cpu++) expect(vm.getVcpuState(cpu).regs.rip).toBeTypeOf('bigint');
              paused++;
              vm.resume();
            }
          }
        },
      }),
    ]);
    expect(paused).toBeGreaterThan(0);
    expect(guest.checksum).toBe(host.checksum);
  });
});
