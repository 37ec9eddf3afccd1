// Loads the compiled addon, or says exactly how to get one.
import { requireAddon } from '@uckpt/native-core';
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
