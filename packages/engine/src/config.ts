// What defines a protected VM (its spec, fixed at creation) and how it is
// checkpointed (its settings, changeable while it runs). The limits live
// here once; the server's schemas and the agent's checks both use them.
export type BackendName = 'kvm' | 'sim';
export type CheckpointMode = 'stop-and-copy' | 'cow';
export type PredictorName = 'off' | 'history' | 'frontier' | 'cost';

export type VmState =
  | 'starting'
  | 'calibrating'
  | 'running'
  | 'paused'
  | 'rolling-back'
  | 'finished'
  | 'crashed'
  | 'failed'
  | 'stopped';

export const limits = {
  name: { pattern: '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$' },
  memoryMiB: { min: 16, max: 16384 },
  vcpus: { min: 1, max: 64 },
  intervalMs: { min: 1, max: 10_000 },
  retention: { min: 1, max: 1024 },
  /** Guest-visible integers travel as decimal strings or safe integers. */
  seed: { min: 0, max: Number.MAX_SAFE_INTEGER },
} as const;

export interface VmSpec {
  name: string;
  backend: BackendName;
  workload: string;
  memoryMiB: number;
  vcpus: number;
  seed: number;
  /** 0: the workload's default. */
  size: number;
  param: number;
  /** Runs of the workload; 0 loops forever (a long-lived protected VM). */
  repeat: number;
}

export interface CheckpointSettings {
  enabled: boolean;
  intervalMs: number;
  retention: number;
  mode: CheckpointMode;
  predictor: PredictorName;
}

export const defaultSettings: CheckpointSettings = {
  enabled: true,
  intervalMs: 50,
  retention: 8,
  mode: 'stop-and-copy',
  predictor: 'history',
};

export const defaultSpec: Omit<VmSpec, 'name' | 'workload'> = {
  backend: 'kvm',
  memoryMiB: 256,
  vcpus: 1,
  seed: 1,
  size: 0,
  param: 0,
  repeat: 0,
};
