// The oracle every rollback test relies on: each workload computes the same
// checksum in a KVM VM as it does as an ordinary host program.
import { expect, it } from 'vitest';
import { listWorkloads, runOnHost } from '@uckpt/guest';
import { runInVm } from '../lib/index.js';
import { describeKvm, emulated } from './kvm.js';

describeKvm('guest checksums equal host checksums', () => {
  for (const { name, defaultSize } of listWorkloads()) {
    // At an eighth of the default size under emulation (e2e/kvm-rig): the
    // default sizes took 20-120 s each there.
    const size = emulated ? Math.max(1, Math.round(defaultSize / 8)) : defaultSize;
    for (const seed of [1, 2]) {
      it(`${name}, seed ${seed}, size ${size}`, async () => {
        const [host, vm] = await Promise.all([runOnHost({ workload: name, seed, size }), runInVm({ workload: name, seed, size })]);
        expect(vm.checksum).toMatch(/^[0-9a-f]{16}$/);
        expect(vm.checksum).toBe(host.checksum);
        expect(vm.progressUnits).toBe(host.progressUnits);
      });
    }
  }

  it('different seeds give different results', async () => {
    const [a, b] = await Promise.all([
      runOnHost({ workload: 'dirtier', seed: 1, size: 16 }),
      runOnHost({ workload: 'dirtier', seed: 2, size: 16 }),
    ]);
    expect(a.checksum).not.toBe(b.checksum);
  });
});
