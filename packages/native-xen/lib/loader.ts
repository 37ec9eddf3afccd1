// Loads the compiled addon, or says exactly how to get one.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addonPath = path.join(packageRoot, 'addon', 'build', 'Release', 'uckpt_xen.node');

export type NativeEvent =
  | ({ type: 'epoch' } & Record<string, unknown>)
  | { type: 'checkpoint-error'; message: string };

export interface NativeDomain {
  info(): unknown;
  pause(): void;
  resume(): void;
  readMemory(gpa: number | bigint, length: number): Buffer;
  writeMemory(gpa: number | bigint, data: Buffer): void;
  mailbox(): unknown;
  detach(): void;
  enableCheckpointing(config: object): void;
  configureCheckpointing(patch: object): void;
  checkpointNow(): Promise<number>;
  rollback(target: number | 'latest'): Promise<unknown>;
  listCheckpoints(): unknown;
  checkpointStats(): unknown;
  testCorruptStoredPage(seq: number, pfn: number): void;
  testLogDirtyInXen(): boolean;
}

export interface NativeAddon {
  XenDomain: new (domid: number, onEvent: (event: NativeEvent) => void) => NativeDomain;
}

let cached: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  if (cached) return cached;
  if (!existsSync(addonPath)) {
    throw new Error(
      `The uckpt Xen addon is not built (${addonPath} is missing).\n` +
        'Possible solutions:\n' +
        '- From the repository root, run `bash scripts/setup.sh` (installs libxen-dev and builds everything).\n' +
        '- Or rebuild only the native parts: `pnpm build:native`.',
    );
  }
  try {
    cached = createRequire(import.meta.url)(addonPath) as NativeAddon;
  } catch (error) {
    throw new Error(
      `The uckpt Xen addon at ${addonPath} could not be loaded: ${(error as Error).message}\n` +
        'Possible solutions:\n' +
        "- Xen's libraries are missing: install libxen-dev (or run `bash scripts/setup.sh`).\n" +
        '- It was built for another Node.js: rebuild it with `pnpm build:native`.',
      { cause: error },
    );
  }
  return cached;
}
