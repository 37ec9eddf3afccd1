import { describe, expect, it } from 'vitest';
import { protectionRefusal, type HostDomain } from '../src/host-domains.js';

const web1: HostDomain = { domid: 3, name: 'web1', type: 'pvh', state: 'running', shutdownReason: null, memoryKb: 131072, vcpus: 1 };

describe('which domains can be protected', () => {
  it('a running or paused PVH domU can', () => {
    expect(protectionRefusal(web1)).toBeNull();
    expect(protectionRefusal({ ...web1, state: 'paused' })).toBeNull();
  });

  it('dom0, PV and HVM guests, a dying or shut-down domain cannot, and each says why', () => {
    expect(protectionRefusal({ ...web1, domid: 0, name: 'Domain-0', type: 'pv' })).toMatch(/control domain/);
    expect(protectionRefusal({ ...web1, type: 'pv' })).toMatch(/PV guest.*shadow paging/);
    expect(protectionRefusal({ ...web1, type: 'hvm' })).toMatch(/HVM guest.*QEMU/);
    expect(protectionRefusal({ ...web1, state: 'dying' })).toMatch(/being destroyed/);
    expect(protectionRefusal({ ...web1, state: 'crashed', shutdownReason: 'crash' })).toMatch(/shut down \(crash\)/);
  });
});
