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

/** A seeded PRNG for reproducible "random" moments. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
