// The domains of a Xen host as the service shows them, and the name or
// domid an operator gives resolved to one that can be protected. The Xen
// addon is loaded on first use only: a KVM host never needs it.
import type { HostDomain } from '@uckpt/native-xen';
import { EngineError } from './errors.js';

export type { HostDomain };

/** Why this domain cannot be protected, or null when it can. */
export function protectionRefusal(domain: HostDomain): string | null {
  if (domain.domid === 0) return 'domain 0 is the control domain, where this service runs';
  if (domain.type === 'pv') return "a PV guest: Debian's Xen has no shadow paging for PV log-dirty (use PVH)";
  if (domain.type === 'hvm') {
    return "an HVM guest: its emulated devices' state lives in QEMU, outside what a rollback restores (use PVH)";
  }
  if (domain.state === 'dying') return 'it is being destroyed';
  if (domain.state === 'shutdown' || domain.state === 'crashed') return `it has shut down (${domain.shutdownReason ?? 'unknown reason'})`;
  return null;
}

/** Every domain of this host; 503 (backend-unavailable) where there is no Xen. */
export async function hostDomains(): Promise<HostDomain[]> {
  try {
    const { listDomains } = await import('@uckpt/native-xen');
    return listDomains();
  } catch (error) {
    throw new EngineError('backend-unavailable', (error as Error).message);
  }
}

/**
 * The domain `ref` names (its name, or its domid in decimal), when it can
 * be protected; a clear refusal otherwise.
 */
export async function resolveDomain(ref: string): Promise<HostDomain> {
  const domains = await hostDomains();
  const found = /^\d+$/.test(ref) ? domains.find((d) => d.domid === Number(ref)) : domains.find((d) => d.name === ref);
  if (!found) {
    const names = domains.filter((d) => d.domid !== 0).map((d) => d.name || String(d.domid));
    throw new EngineError('not-found', `there is no domain ${ref} on this host (domains: ${names.join(', ') || 'none but dom0'})`);
  }
  const refusal = protectionRefusal(found);
  if (refusal) throw new EngineError('invalid-argument', `domain ${ref} cannot be protected: ${refusal}`);
  return found;
}
