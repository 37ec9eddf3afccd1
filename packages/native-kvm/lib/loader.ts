// Loads the compiled addon, or says exactly how to get one.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addonPath = path.join(packageRoot, 'addon', 'build', 'Release', 'uckpt_kvm.node');

export interface NativeAddon {
  Vm: new (
    memoryMiB: number,
    vcpus: number,
    onEvent: (event: NativeEvent) => void,
    options: { dirtyTracking?: 'bitmap' | 'ring' },
  ) => NativeVm;
  /** copyThreads when not given: 2 where this process may run on two CPUs or more, else 1. */
  defaultCopyThreads: number;
}

export type NativeEvent =
  | { type: 'console'; text: string }
  | { type: 'state'; state: string; exit?: NativeExit }
  | ({ type: 'epoch' } & Record<string, number>)
  | { type: 'checkpoint-error'; message: string };

export interface NativeExit {
  reason: string;
  message: string;
  vcpu: number;
  run: number;
  result?: bigint;
}

export interface NativeVm {
  loadImage(image: Buffer, params: object): unknown;
  start(): void;
  pause(): void;
  resume(): void;
  stop(): void;
  joinEndedRun(): boolean;
  destroy(): void;
  readMemory(gpa: number | bigint, length: number): Buffer;
  writeMemory(gpa: number | bigint, data: Buffer): void;
  getVcpuState(index: number): unknown;
  setVcpuState(index: number, state: object): void;
  mailbox(): unknown;
  state(): string;
  exitInfo(): NativeExit | null;
  info(): unknown;
  enableCheckpointing(config: object): void;
  disableCheckpointing(): void;
  configureCheckpointing(patch: object): void;
  checkpointNow(): Promise<number>;
  rollback(target: number | 'latest'): Promise<unknown>;
  listCheckpoints(): unknown;
  checkpointStats(): unknown;
  testCorruptStoredPage(seq: number, pfn: number): void;
}

let cached: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  cached ??= requireAddon<NativeAddon>('KVM', addonPath, [
    '- It was built for another Node.js: rebuild it with `pnpm build:native` (Node 20 or newer).',
    '- Remove packages/native-kvm/addon/build and run `bash scripts/setup.sh` again.',
  ]);
  return cached;
}

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
