export { Vm } from './vm.js';
export type {
  CheckpointConfig,
  CheckpointInfo,
  CheckpointStats,
  EpochStats,
  ExitInfo,
  ExitReason,
  GuestParams,
  KvmInfo,
  Mailbox,
  RollbackResult,
  Segment,
  VcpuState,
  VcpuStatePatch,
  VmOptions,
  VmState,
} from './vm.js';
export {
  GuestRunError,
  findWorkload,
  formatChecksum,
  guestImagePath,
  hostProgramPath,
  listWorkloads,
  runInVm,
  runOnHost,
} from './workloads.js';
export type { RunResult, VmRunOptions, WorkloadDescriptor, WorkloadRun } from './workloads.js';
export { loadAddon } from './loader.js';
