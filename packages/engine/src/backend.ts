// The engine's view of a hypervisor: one protected VM it can start,
// checkpoint, roll back and stop. KVM implements it over the native VMM;
// `sim` is a labelled test double. Xen arrives in its own package.
import type { EventEmitter } from 'node:events';
import type { BackendName, CheckpointMode, CheckpointSettings, VmSpec } from './config.js';

export interface GuestProgress {
  /** Work units done since boot (monotonic across runs, rewound by rollbacks). */
  units: number;
  runsDone: number;
  /** Checksum of the last finished run, 16 hex digits, or null. */
  lastChecksum: string | null;
}

export interface BackendEpoch {
  seq: number;
  time: number;
  dirtyPages: number;
  pagesCopied: number;
  pauseNs: number;
  predicted: number;
  truePositives: number;
  falsePositives: number;
  misses: number;
  /** Write faults the guest took, and the time they cost it. */
  faults: number;
  faultNsEstimate: number;
  /** The mode in effect (copy-on-write falls back to stop-and-copy where the kernel cannot do it). */
  mode: CheckpointMode;
  storeBytes: number;
  retained: number;
  coalesced: number;
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

/** How a run ended; `done` is the only clean end. */
export interface BackendExit {
  state: 'finished' | 'crashed' | 'failed' | 'stopped';
  reason: string;
}

export interface BackendVmEvents {
  epoch: [epoch: BackendEpoch];
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
  /** Applies checkpoint settings; a change of mode restarts checkpointing (retained checkpoints are dropped). */
  applySettings(next: CheckpointSettings, previous: CheckpointSettings | null): void;
  checkpointNow(): Promise<number>;
  rollback(target: number | 'latest'): Promise<BackendRollback>;
  checkpoints(): BackendCheckpoint[];
  destroy(): void;
}

export interface Backend {
  readonly name: BackendName;
  readonly simulated: boolean;
  /** Throws EngineError('backend-unavailable') with what to do when the host cannot run it. */
  createVm(spec: VmSpec): BackendVm;
}
