// Many VMs in one process, and nothing left behind: destroy releases every
// fd, thread and mapping.
import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { runOnHost } from '@uckpt/guest';
import { runInVm } from '../lib/index.js';
import { describeKvm, scaled } from './kvm.js';

const openFds = () => readdirSync('/proc/self/fd').length;
const threads = () => Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

describeKvm('VM lifecycle', () => {
  it(`${scaled(200)} create/run/destroy cycles leave fds, threads and RSS flat`, async () => {
    const cycle = () => runInVm({ workload: 'dirtier', seed: 7, size: 8, param: 16, memoryMiB: 32, vcpus: 2 });
    const expected = (await runOnHost({ workload: 'dirtier', seed: 7, size: 8, param: 16 })).checksum;
    for (let i = 0; i < 20; i++) await cycle(); // let allocators and caches settle
    const before = { fds: openFds(), threads: threads(), rss: rssMiB() };
    for (let i = 0; i < scaled(200); i++) {
      const result = await cycle();
      expect(result.checksum).toBe(expected);
    }
    const after = { fds: openFds(), threads: threads(), rss: rssMiB() };
    expect(after.fds).toBe(before.fds);
    expect(after.threads).toBe(before.threads);
    // Each cycle touched ~8 MiB of guest RAM: a leak of one VM's memory per
    // cycle would show as hundreds of MiB here (over 300 in the rig's 40).
    expect(after.rss - before.rss).toBeLessThan(48);
  });

  it('several VMs run at once in one process, each with its own result', async () => {
    const runs = [
      { workload: 'dp', seed: 1, size: 300 },
      { workload: 'sort', seed: 2, size: 2 },
      { workload: 'dirtier', seed: 3, size: 32 },
      { workload: 'graph', seed: 4, size: 64 },
    ];
    const [hosts, guests] = await Promise.all([
      Promise.all(runs.map((r) => runOnHost(r))),
      Promise.all(runs.map((r) => runInVm({ ...r, memoryMiB: 256 }))),
    ]);
    expect(guests.map((g) => g.checksum)).toEqual(hosts.map((h) => h.checksum));
  });
});
