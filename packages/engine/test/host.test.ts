import { describe, expect, it } from 'vitest';
import { describeHost, type HostProbe } from '../src/host.js';

function probe(over: Partial<HostProbe> & { files?: Record<string, string> }): HostProbe {
  const files = over.files ?? {};
  return {
    unavailable: () => null,
    exists: (path) => path in files,
    read: (path) => files[path] ?? null,
    env: {},
    kernelRelease: '6.12.95+deb12-amd64',
    ...over,
  };
}

const noXen = (backend: 'kvm' | 'xen') => (backend === 'xen' ? 'no Xen hypervisor (privcmd) found' : null);

describe('describeHost', () => {
  it('a PVM host: KVM, not emulated', () => {
    const host = describeHost(probe({ unavailable: noXen, files: { '/sys/module/kvm_pvm': '' } }));
    expect(host).toMatchObject({ hypervisor: 'kvm', kvmFlavor: 'pvm', emulated: false, version: '6.12.95+deb12-amd64', lacks: [] });
    expect(host.backends).toEqual({ kvm: null, xen: 'no Xen hypervisor (privcmd) found' });
  });

  it('the KVM rig: hardware-style KVM under emulation, told by the rig or by the CPU TCG names', () => {
    const cpuinfo = 'processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: QEMU TCG CPU version 2.5+\n';
    const byCpu = describeHost(probe({ unavailable: noXen, files: { '/sys/module/kvm_amd': '', '/proc/cpuinfo': cpuinfo } }));
    expect(byCpu).toMatchObject({ hypervisor: 'kvm', kvmFlavor: 'hardware', emulated: true });
    const byRig = describeHost(probe({ unavailable: noXen, env: { UCKPT_KVM_RIG: '1' }, files: { '/sys/module/kvm_amd': '' } }));
    expect(byRig.emulated).toBe(true);
    const real = describeHost(probe({ unavailable: noXen, files: { '/sys/module/kvm_intel': '', '/proc/cpuinfo': 'model name\t: Intel(R) Xeon(R)\n' } }));
    expect(real.emulated).toBe(false);
  });

  it('a Xen dom0: Xen with its own version', () => {
    const files = { '/sys/hypervisor/version/major': '4\n', '/sys/hypervisor/version/minor': '17\n', '/sys/hypervisor/version/extra': '.3\n' };
    const host = describeHost(probe({ unavailable: (b) => (b === 'kvm' ? 'this host has no /dev/kvm' : null), files }));
    expect(host).toMatchObject({ hypervisor: 'xen', version: '4.17.3', kvmFlavor: null, emulated: false, lacks: [] });
  });

  it('no hypervisor: says what is lacking for each, never emulated', () => {
    const host = describeHost(probe({ unavailable: (b) => `no ${b} here`, env: { UCKPT_KVM_RIG: '1' } }));
    expect(host).toMatchObject({ hypervisor: null, version: null, kvmFlavor: null, emulated: false });
    expect(host.lacks).toEqual(['no kvm here', 'no xen here']);
  });
});
