// The one gate for tests that need a real /dev/kvm, in every package: they
// run wherever it exists. Where it does not, they are skipped in this run
// with a banner, and `pnpm test` runs them in the KVM rig instead
// (e2e/kvm-rig/tests.sh finds them by these names: describeKvm, itKvm). In
// the rig a missing /dev/kvm is an error, never a skip.
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
      `* in this run; \`pnpm test\` runs them in the KVM rig (pnpm test:kvm-rig).\n${'*'.repeat(76)}\n`,
  );
}

export const describeKvm = describe.skipIf(!hasKvm);
export const itKvm = it.skipIf(!hasKvm);
