export { defaultCopyThreads, Vm } from './vm.js';
export type {
  ExitInfo,
  ExitReason,
  GuestLayout,
  GuestParams,
  GuestRange,
  ImageLayout,
  KvmCheckpointStats,
  KvmInfo,
  KvmRollbackResult,
  LoadedImage,
  Segment,
  VcpuState,
  VcpuStatePatch,
  VmOptions,
  VmState,
} from './vm.js';
export { GuestRunError, runInVm } from './run-in-vm.js';
export type { CheckpointedRunResult, VmRunOptions } from './run-in-vm.js';
export { corruptRegister, corruptStoredPage, flipBits, generalRegisters, makeCrash, makeHang } from './faults.js';
export type {
  CrashFault,
  CrashHow,
  Fault,
  FlippedBit,
  GeneralRegister,
  HangFault,
  MemoryFault,
  MemoryRegion,
  RegisterFault,
  StoredPageFault,
} from './faults.js';
export { loadAddon } from './loader.js';
