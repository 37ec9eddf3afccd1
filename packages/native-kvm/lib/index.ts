export { defaultCopyThreads, Vm } from './vm.js';
export type {
  CheckpointConfig,
  CheckpointInfo,
  CheckpointMode,
  CheckpointPatch,
  CheckpointStats,
  EpochStats,
  ExitInfo,
  ExitReason,
  GuestLayout,
  GuestParams,
  GuestRange,
  ImageLayout,
  LoadedImage,
  KvmInfo,
  Mailbox,
  PredictorName,
  RollbackResult,
  Segment,
  VcpuState,
  VcpuStatePatch,
  VmOptions,
  VmState,
} from './vm.js';
export {
  findWorkload,
  formatChecksum,
  guestImagePath,
  hostProgramPath,
  listWorkloads,
  runOnHost,
} from './workloads.js';
export type { RunResult, WorkloadDescriptor, WorkloadRun } from './workloads.js';
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
  Random,
  RegisterFault,
  StoredPageFault,
} from './faults.js';
export { percentiles } from './percentiles.js';
export { seededRandom } from './seeded-random.js';
export { loadAddon, requireAddon } from './loader.js';
