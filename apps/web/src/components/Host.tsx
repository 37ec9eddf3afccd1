import type { HostInfo } from '../api/types.ts';

/** The hypervisor in the header: what the figures on every page come from. */
export function HostBadge({ host }: { host: HostInfo | null }) {
  if (!host) return null;
  if (!host.hypervisor)
    return (
      <span className="badge tone-bad" data-testid="host-badge" title={host.lacks.join('\n')}>
        no hypervisor
      </span>
    );
  const name = host.hypervisor === 'kvm' ? 'KVM' : 'Xen';
  const how = [host.kvmFlavor === 'pvm' ? 'PVM' : null, host.emulated ? 'emulated' : null].filter(Boolean).join(', ');
  return (
    <span
      className={`badge ${host.emulated ? 'tone-warn' : 'tone-muted'}`}
      data-testid="host-badge"
      title={host.version ? `${name} on ${host.version}` : name}
    >
      {name}
      {how && ` · ${how}`}
    </span>
  );
}

/**
 * Under every page: a host whose timings mislead (KVM under software
 * emulation), or one that cannot protect anything, and what to install.
 */
export function HostBanner({ host }: { host: HostInfo | null }) {
  if (!host) return null;
  if (!host.hypervisor)
    return (
      <div className="banner banner-bad" role="alert" data-testid="host-banner">
        <strong>This host cannot protect VMs.</strong>
        <ul>
          {host.lacks.map((why) => (
            <li key={why}>{why}</li>
          ))}
        </ul>
      </div>
    );
  if (host.emulated)
    return (
      <div className="banner banner-warn" role="note" data-testid="host-banner">
        <strong>KVM runs under software emulation here</strong> (the KVM rig: this host has no /dev/kvm). Checkpoints,
        rollbacks and detectors work as on any host, but page faults and exits cost 10-40 times more: the pause times
        and overhead shown are not representative.
      </div>
    );
  return null;
}
