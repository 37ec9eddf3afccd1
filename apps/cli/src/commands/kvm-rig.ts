// Where the KVM rig is (e2e/kvm-rig: KVM under QEMU's software emulation)
// and whether it can run on this host. Nothing heavy is imported here: the
// browser tests' set-up reads it too.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
export const rigScript = `${repoRoot}e2e/kvm-rig/rig.sh`;
/** The rig's address on QEMU's user-mode network, where forwarded ports arrive. */
export const rigGuestAddress = '10.0.2.15';

/** Why the KVM rig cannot run on this host; null when it can. */
export function rigUnavailable(): string | null {
  if (!existsSync(rigScript)) return `${rigScript} is missing (the KVM rig ships with the repository)`;
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return 'no qemu-system-x86_64 to emulate KVM with (apt-get install qemu-system-x86)';
  return null;
}
