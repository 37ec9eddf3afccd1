// Loads the compiled addon, or says exactly how to get one.
import { requireAddon } from '@uckpt/native-core';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addonPath = path.join(packageRoot, 'addon', 'build', 'Release', 'uckpt_xen.node');

export type NativeEvent =
  | ({ type: 'epoch' } & Record<string, unknown>)
  | { type: 'checkpoint-error'; message: string };

export interface NativeDomain {
  info(): unknown;
  vcpus(): unknown;
  flipRegister(vcpu: number, name: string, mask: bigint): unknown;
  crash(): void;
  guestRam(frame: number): boolean;
  pause(): void;
  resume(): void;
  readMemory(gpa: number | bigint, length: number): Buffer;
  writeMemory(gpa: number | bigint, data: Buffer): void;
  mailbox(): unknown;
  readXenstore(key: string): string | null;
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
  listDomains(): unknown;
}

let cached: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  cached ??= requireAddon<NativeAddon>('Xen', addonPath, [
    "- Xen's libraries are missing: install libxen-dev (or run `bash scripts/setup.sh`).",
    '- It was built for another Node.js: rebuild it with `pnpm build:native`.',
  ]);
  return cached;
}
