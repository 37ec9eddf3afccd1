// The engine's view of a hypervisor: one protected VM it can start,
// checkpoint, roll back and stop. KVM implements it over the native VMM;
// `sim` is a labelled test double. Xen arrives in its own package.
import type { EventEmitter } from 'node:events';
import type { EpochRecord } from '@uckpt/native-core';
import type { BackendName, CheckpointMode, CheckpointSettings, VmSpec } from './config.js';
import type { FaultEffect, FaultRequest } from './faults.js';

export interface GuestProgress {
  /** Work units done since boot (monotonic across runs, rewound by rollbacks). */
  units: number;
  runsDone: number;
  /** Checksum of the last finished run, 16 hex digits, or null. */
  lastChecksum: string | null;
}

/** What one vCPU is doing, as the hypervisor sees it (for detectors that need no guest code). */
export interface VcpuActivity {
  vcpu: number;
  /** Time it has run, all told, ns. */
  cpuTimeNs: number;
  /** Waiting for an event (halted). */
  blocked: boolean;
  /** Where it is now. */
  rip: bigint;
  /** At privilege level 0. */
  kernel: boolean;
}

export interface BackendCheckpoint {
  seq: number;
  time: number;
  pages: number;
  bytes: number;
  verified: boolean;
}

export interface BackendRollback {
  seq: number;
  pagesRestored: number;
  checkpointsDropped: number;
  durationNs: number;
}

/**
 * How a run ended. `cause` is what the detectors go by: `done` is the only
 * clean end; `guest-error` is the guest's own self-check failing; `crash`
 * is an exception, a triple fault, a shutdown or any other unexpected exit;
 * `internal` is the VMM failing, not the guest.
 */
export interface BackendExit {
  state: 'finished' | 'crashed' | 'failed' | 'stopped';
  cause: 'done' | 'guest-error' | 'crash' | 'internal' | 'stopped';
  reason: string;
  /** What the hypervisor reported, for the alert's evidence. */
  detail?: Record<string, unknown>;
}

export interface BackendVmEvents {
  epoch: [epoch: EpochRecord];
  console: [line: string];
  exit: [exit: BackendExit];
  /** Checkpointing hit an error it could not recover from (it is off now). */
  'checkpoint-error': [message: string];
  /** Checkpointing runs, but not as asked (e.g. copy-on-write fell back to stop-and-copy). */
  'checkpoint-warning': [message: string];
}

export interface BackendVm extends EventEmitter<BackendVmEvents> {
  readonly backend: BackendName;
  /** True for test doubles: every answer about this VM says so. */
  readonly simulated: boolean;
  start(): void;
  progress(): GuestProgress;
  /** Each online vCPU's activity, where the backend can tell (Xen domains). */
  vcpuActivity?(): VcpuActivity[];
  /** Applies checkpoint settings; a change of mode restarts checkpointing (retained checkpoints are dropped). */
  applySettings(next: CheckpointSettings, previous: CheckpointSettings | null): void;
  checkpointNow(): Promise<number>;
  /**
   * Rolls back in place; also after the guest crashed or reported an error
   * (the VM runs again from the checkpoint). Refused, with nothing changed,
   * when a stored page it needs fails its checksum: that checkpoint then
   * lists as not verified.
   */
  rollback(target: number | 'latest'): Promise<BackendRollback>;
  checkpoints(): BackendCheckpoint[];
  /** Injects a fault; throws EngineError('unsupported') for a kind this backend cannot do. */
  inject(request: FaultRequest): Promise<FaultEffect>;
  destroy(): void;
}

export interface Backend {
  readonly name: BackendName;
  readonly simulated: boolean;
  /** Throws EngineError('backend-unavailable') with what to do when the host cannot run it. */
  createVm(spec: VmSpec): BackendVm;
}
