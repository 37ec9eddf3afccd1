// On a host without Xen (this one, under KVM) the addon still builds and
// loads, and attaching says what is missing. The backend itself is tested
// on a real Xen by e2e/xen (pnpm test:xen).
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { XenDomain } from '../lib/index.js';

const underXen = existsSync('/proc/xen/privcmd') || existsSync('/dev/xen/privcmd');

describe.skipIf(underXen)('without a Xen hypervisor', () => {
  it('attaching says that no Xen hypervisor (privcmd) was found', () => {
    expect(() => XenDomain.attach(1)).toThrow(/no Xen hypervisor \(privcmd\) found; this must run in dom0/);
  });

  it('bad domids are refused before Xen is asked', () => {
    expect(() => XenDomain.attach(0)).toThrow(/domain 0 is the control domain itself/);
    expect(() => XenDomain.attach(-1)).toThrow(/domid must be a non-negative integer/);
    expect(() => XenDomain.attach(0x7ff0)).toThrow(/domid must be at most 32751/);
  });
});

describe.skipIf(underXen)('the host without a Xen hypervisor', () => {
  it('listing its domains says that no Xen hypervisor (privcmd) was found', async () => {
    const { listDomains } = await import('../lib/index.js');
    expect(() => listDomains()).toThrow(/no Xen hypervisor \(privcmd\) found; this must run in dom0/);
  });
});
