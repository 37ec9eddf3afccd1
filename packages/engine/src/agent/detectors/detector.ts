// The detector interface. A detector looks at what the agent observes (the
// guest's progress, how its run ended, the retained checkpoints) and says
// when something is wrong. Each states its detection-latency bound: the
// longest time from an error to its detection. Recovery rolls back to a
// checkpoint taken before the detection time minus that bound, the newest
// one the error cannot have reached.
import type { BackendCheckpoint, BackendExit, GuestProgress, VcpuActivity } from '../../backend.js';
import type { CheckpointSettings, VmState } from '../../config.js';

export type DetectorName = 'heartbeat' | 'self-check' | 'crash' | 'console' | 'vcpu-progress' | 'checkpoint-integrity';

export interface Observation {
  /** Unix time, ms. */
  now: number;
  state: VmState;
  progress: GuestProgress;
  checkpoints: readonly BackendCheckpoint[];
  /** Each online vCPU's activity, where the backend can tell; else null. */
  vcpus: readonly VcpuActivity[] | null;
  /** The console lines that came since the last observation. */
  consoleLines: readonly string[];
  /** Set once, when the run has just ended. */
  exit?: BackendExit;
  settings: CheckpointSettings;
}

export interface Detection {
  detector: DetectorName;
  /** Unix time, ms. */
  time: number;
  message: string;
  evidence: Record<string, unknown>;
  latencyBoundMs: number;
  /** False for faults of the checkpoints rather than the guest: nothing to roll back. */
  recoverable: boolean;
}

export interface Detector {
  readonly name: DetectorName;
  /** The latency bound the detector promises under these settings, ms. */
  latencyBoundMs(settings: CheckpointSettings): number;
  observe(observation: Observation): Detection[];
  /** The guest was rolled back or restarted: what was observed before no longer holds. */
  reset(now: number): void;
}
