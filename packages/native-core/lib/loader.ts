// Loads a compiled addon of this repository, or says exactly how to get one.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

/**
 * Loads a compiled addon of this repository, or says how to get one:
 * `loadHints` are what to try when it exists and does not load.
 */
export function requireAddon<T>(what: string, addonPath: string, loadHints: string[]): T {
  if (!existsSync(addonPath)) {
    throw new Error(
      `The uckpt ${what} addon is not built (${addonPath} is missing).\n` +
        'Possible solutions:\n' +
        '- From the repository root, run `bash scripts/setup.sh` (installs what is missing and builds everything).\n' +
        '- Or rebuild only the native parts: `pnpm build:native`.',
    );
  }
  try {
    return createRequire(import.meta.url)(addonPath) as T;
  } catch (error) {
    throw new Error(
      `The uckpt ${what} addon at ${addonPath} could not be loaded: ${(error as Error).message}\n` +
        `Possible solutions:\n${loadHints.join('\n')}`,
      { cause: error },
    );
  }
}
