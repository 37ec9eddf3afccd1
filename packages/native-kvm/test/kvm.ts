// Shared by the tests that need a real /dev/kvm: they run wherever it exists
// and say loudly when they cannot.
import { constants, accessSync } from 'node:fs';
import { describe } from 'vitest';

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
  console.warn(
    '\n' + '*'.repeat(72) + '\n* /dev/kvm is missing or not accessible: the KVM tests are SKIPPED.\n' + '*'.repeat(72) + '\n',
  );
}

export const describeKvm = describe.skipIf(!hasKvm);

export { seededRandom } from '@uckpt/native-core';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 5 ms; throws naming `what` after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
