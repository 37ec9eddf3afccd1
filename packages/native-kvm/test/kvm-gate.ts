// The one gate for tests that need a real /dev/kvm, in every package: they
// run wherever it exists. Where it does not, they are skipped with a banner;
// `pnpm test:kvm-rig` runs them in the KVM rig (e2e/kvm-rig/tests.sh finds
// them by these names: describeKvm, itKvm), where a missing /dev/kvm is an
// error, never a skip.
import { constants, accessSync } from 'node:fs';
import { describe, it } from 'vitest';

function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export const hasKvm = kvmUsable();

if (!hasKvm) {
  if (process.env.UCKPT_KVM_REQUIRED === '1') throw new Error('UCKPT_KVM_REQUIRED is set but /dev/kvm is missing or not accessible');
  console.warn(
    `\n${'*'.repeat(76)}\n* /dev/kvm is missing or not accessible: the tests that need KVM are skipped\n` +
      `* in this run; \`pnpm test:kvm-rig\` runs them in the KVM rig (e2e/kvm-rig).\n${'*'.repeat(76)}\n`,
  );
}

export const describeKvm = describe.skipIf(!hasKvm);
export const itKvm = it.skipIf(!hasKvm);

/**
 * KVM itself runs under software emulation here (the KVM rig, e2e/kvm-rig):
 * compute is a few times slower than on a real host, every exit and fault
 * 10-40x dearer, and each process starts slowly (kvm-rig.md).
 */
export const emulated = process.env.UCKPT_KVM_RIG === '1';

/** How much longer waits for processes and VMs may take here: 4x under emulation. */
export const slowdown = emulated ? 4 : 1;
