// The oracle every rollback test relies on: each workload computes the same
// checksum in a KVM VM as it does as an ordinary host program.
import { expect, it } from 'vitest';
import { listWorkloads, runOnHost } from '@uckpt/guest';
import { runInVm } from '../lib/index.js';
import { describeKvm } from './kvm.js';

describeKvm('guest checksums equal host checksums', () => {
  for (const { name } of listWorkloads()) {
    for (const seed of [1, 2]) {
      it(`${name}, seed ${seed}`, async () => {
        const [host, vm] = await Promise.all([runOnHost({ workload: name, seed }), runInVm({ workload: name, seed })]);
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
