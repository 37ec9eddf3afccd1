// What a protected machine offers whatever its hypervisor: the KVM VMM's
// Vm and the Xen addon's XenDomain both satisfy it, so that what drives
// checkpointing (settings, rollback, statistics) is written once.
import type { CheckpointConfig, CheckpointInfo, CheckpointPatch, CheckpointStats, RollbackResult } from './checkpointing.js';

export interface Checkpointable {
  enableCheckpointing(config: CheckpointConfig): void;
  /** A change of mode drops the retained checkpoints and starts over. */
  configureCheckpointing(patch: CheckpointPatch): void;
  disableCheckpointing(): void;
  /** Takes a checkpoint now; resolves with its seq. */
  checkpointNow(): Promise<number>;
  rollback(target: number | 'latest'): Promise<RollbackResult>;
  listCheckpoints(): CheckpointInfo[];
  stats(): CheckpointStats;
}
