// `uckpt run` on a real KVM VM: its output, and checksums equal to the host
// program's with and without checkpoints and rollbacks.
import { expect, it } from 'vitest';
import { describeKvm, emulated, uckpt } from './helper.js';

// Fewer under emulation (the KVM rig), where each costs seconds; and there
// a run's last points may pass while the harness is not scheduled on the one
// emulated CPU (packages/native-kvm/test/kvm.ts, leastRollbacks).
const rollbacks = emulated ? 3 : 10;
const expectRollbacks = (made: number) => {
  expect(made).toBeGreaterThanOrEqual(emulated ? 2 : rollbacks);
  expect(made).toBeLessThanOrEqual(rollbacks);
};

describeKvm('uckpt run on KVM', () => {
  it('prints one JSON object whose checksum matches the host program', async () => {
    const [vm, host] = await Promise.all([
      uckpt('run', '--workload', 'compress', '--size', '4', '--seed', '11', '--json'),
      uckpt('run', '--workload', 'compress', '--size', '4', '--seed', '11', '--on', 'host', '--json'),
    ]);
    expect(vm.code).toBe(0);
    const a = JSON.parse(vm.stdout);
    const b = JSON.parse(host.stdout);
    expect(a).toMatchObject({ workload: 'compress', on: 'kvm', seed: 11, memoryMiB: 1024 });
    expect(b).toMatchObject({ workload: 'compress', on: 'host' });
    expect(a.checksum).toMatch(/^[0-9a-f]{16}$/);
    expect(a.checksum).toBe(b.checksum);
    expect(a.runtimeMs).toBeGreaterThan(0);
  });

  it('prints checksum, runtime and progress rate for people', async () => {
    const r = await uckpt('run', '--workload', 'dp', '--size', '20', '--memory-mib', '64', '--vcpus', '2');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^dp on kvm: checksum [0-9a-f]{16}, \d+\.\d\d s, \d+\.\d progress units\/s\n$/);
  });

  it('checkpointed with rollbacks, the checksum stays the unprotected one', async () => {
    const args = ['--workload', 'sort', '--size', '2', '--seed', '4', '--json'];
    const [protectedRun, notAhead, host] = await Promise.all([
      uckpt('run', ...args, '--mode', 'stop-and-copy', '--interval-ms', '10', '--retention', '4', '--rollbacks', String(rollbacks)),
      uckpt('run', ...args, '--mode', 'stop-and-copy', '--interval-ms', '10', '--rollbacks', String(rollbacks), '--no-precopy'),
      uckpt('run', ...args, '--on', 'host'),
    ]);
    const r = JSON.parse(protectedRun.stdout);
    expect(r).toMatchObject({ mode: 'stop-and-copy', intervalMs: 10, retention: 4, precopy: true });
    expectRollbacks(r.rollbacks);
    const n = JSON.parse(notAhead.stdout);
    expect(n).toMatchObject({ precopy: false, pagesPrecopiedPerEpoch: 0 });
    expectRollbacks(n.rollbacks);
    expect(n.checksum).toBe(JSON.parse(host.stdout).checksum);
    for (const key of ['epochs', 'dirtyPagesPerEpoch', 'dirtyPagesP99', 'storeBytesMax']) expect(r[key]).toBeGreaterThan(0);
    for (const key of ['pauseUs', 'usualPauseUs', 'rollbackUs']) expect(r[key].p99).toBeGreaterThanOrEqual(r[key].p50);
    expect(r.usualPauseUs.p99).toBeLessThanOrEqual(r.pauseUs.p99); // a subset of the pauses
    expect(r.checksum).toBe(JSON.parse(host.stdout).checksum);
  });

  it('--mode cow: copy-on-write with rollbacks keeps the checksum, and reports its faults', async () => {
    const args = ['--workload', 'sort', '--size', emulated ? '1' : '2', '--seed', '4', '--json'];
    // Longer epochs under emulation, where a copy-on-write fault costs 10-40x more.
    const intervalMs = emulated ? 50 : 10;
    const [protectedRun, host] = await Promise.all([
      uckpt('run', ...args, '--mode', 'cow', '--interval-ms', String(intervalMs), '--predictor', 'frontier', '--rollbacks', String(rollbacks)),
      uckpt('run', ...args, '--on', 'host'),
    ]);
    const r = JSON.parse(protectedRun.stdout);
    expect(r).toMatchObject({ mode: 'cow', intervalMs, predictor: 'frontier', warnings: [] });
    expectRollbacks(r.rollbacks);
    expect(r.faultsPerEpoch).toBeGreaterThan(0);
    expect(r.costs.cowFaultNsCalibrated).toBeGreaterThan(0);
    expect(r.checksum).toBe(JSON.parse(host.stdout).checksum);
  });

  it('a guest that cannot run says why and exits 1', async () => {
    const r = await uckpt('run', '--workload', 'hashtable', '--memory-mib', '64');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the guest did not finish: the guest refused its parameters: not enough guest memory/);
  });

});
