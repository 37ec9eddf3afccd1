export type { Mailbox } from './mailbox.js';
export { findWorkload, formatChecksum, guestImagePath, hostProgramPath, listWorkloads, runOnHost } from './workloads.js';
export type { RunResult, WorkloadDescriptor, WorkloadRun } from './workloads.js';
