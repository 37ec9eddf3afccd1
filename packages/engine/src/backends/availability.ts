// Whether this host can run a backend at all, asked before an agent is
// started for it, so that a request for a hypervisor the host lacks is
// refused at once with what to do about it.
import { accessSync, constants, existsSync } from 'node:fs';
import { guestImagePath } from '@uckpt/guest';
import type { BackendName } from '../config.js';

/** What the KVM rig (e2e/kvm-rig) emulates KVM with. */
const qemuPath = '/usr/bin/qemu-system-x86_64';
const xenPrivcmd = ['/dev/xen/privcmd', '/proc/xen/privcmd'];

/** Why this host cannot run `backend`, with the remedy; null when it can. */
export function backendUnavailable(backend: BackendName): string | null {
  switch (backend) {
    case 'kvm':
      return kvmUnavailable();
    case 'xen':
      return xenPrivcmd.some((path) => existsSync(path))
        ? null
        : 'no Xen hypervisor (privcmd) found: the xen backend runs in the dom0 of a Xen host';
    case 'sim':
      return null;
  }
}

function kvmUnavailable(): string | null {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT'
      ? `this host has no /dev/kvm: load kvm-intel or kvm-amd, or enable nested virtualization; or run the service in the KVM rig, which emulates one (uckpt serve --hypervisor kvm-rig${existsSync(qemuPath) ? '' : ', after apt-get install qemu-system-x86'})`
      : 'no permission to open /dev/kvm: run as root or add this user to the kvm group';
  }
  return existsSync(guestImagePath) ? null : `${guestImagePath} is missing: build it with \`bash scripts/setup.sh\``;
}
