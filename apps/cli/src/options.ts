// Turning command-line strings into checked values, with errors that name
// the flag, the accepted range and what was given.
import { UsageError } from './usage-error.js';

export function integerOption(
  flag: string,
  raw: string | undefined,
  { min, max, fallback }: { min: number; max: number; fallback: number },
): number {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${flag} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

export function choiceOption<T extends string>(flag: string, raw: string | undefined, choices: readonly T[], fallback: T): T {
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new UsageError(`--${flag} must be one of ${choices.join(', ')} (got "${raw}")`);
  }
  return raw as T;
}
