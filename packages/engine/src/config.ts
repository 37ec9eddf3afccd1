// What defines a protected VM (its spec, fixed at creation) and how it is
// checkpointed (its settings, changeable while it runs). The limits live
// here once; the server's schemas and the agent's checks both use them.
import { EngineError } from './errors.js';
import { detectorBoundsMs } from './agent/detectors/index.js';

export type BackendName = 'kvm' | 'xen' | 'sim';
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
  /** Detection latency bounds, thresholds and the recurrence window, in ms. */
  hangTimeoutMs: { min: 100, max: 600_000 },
  latencyBoundMs: { min: 0, max: 600_000 },
  recurrenceWindowMs: { min: 100, max: 600_000 },
  /** Auto-tune: the share of guest time checkpointing may take, in %. */
  overheadBudgetPct: { min: 0.1, max: 50 },
  /** The error rate the availability model plans for, per hour of execution. */
  errorRatePerHour: { min: 0, max: 3600 },
  /** A Xen domain to attach (dom0 and Xen's reserved ids excluded). */
  domid: { min: 1, max: 0x7fef },
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
  /**
   * Xen only: the existing domain to protect. It is attached, never created
   * or destroyed, and the guest parameters above are what it was booted with.
   */
  domid?: number;
}

export interface CheckpointSettings {
  enabled: boolean;
  intervalMs: number;
  retention: number;
  mode: CheckpointMode;
  predictor: PredictorName;
  /**
   * Stop-and-copy: copy pages written early in an epoch while the guest runs,
   * so that the pause copies only the rest (shorter pauses, at the price of
   * the engine's CPU for about as long as those copies). KVM with the dirty
   * bitmap; elsewhere it has no effect.
   */
  precopy: boolean;
  /** On an alert, roll back and watch for a recurrence; off: alert only. */
  autoRecover: boolean;
  /** Heartbeat: no guest progress for this long is a hang. */
  hangTimeoutMs: number;
  /** How late the guest's own self-checks may report an error after it happened. */
  selfCheckLatencyMs: number;
  /** How long a corruption may stay silent before it crashes the guest. */
  crashLatencyMs: number;
  /** An alert this soon after a recovery rollback is a recurrence: the next older checkpoint is tried. */
  recurrenceWindowMs: number;
  /**
   * Keep the interval at the availability model's optimum within the
   * overhead budget, re-evaluated as the workload's write rate changes.
   */
  autoTune: boolean;
  /** What auto-tune may spend on checkpointing, in % of guest time (modelled and measured). */
  overheadBudgetPct: number;
  /** Errors expected per hour: the model's error rate for this VM (auto-tune and the availability panel). */
  errorRatePerHour: number;
}

export const defaultSettings: CheckpointSettings = {
  enabled: true,
  intervalMs: 50,
  // 1.2 s of history at 50 ms: enough to reach back past the default
  // detectors' latency bounds (heartbeat 500 ms + two samples, self-check
  // 1 s). A campaign measured what less costs: at 8, 70 % of detected errors
  // recovered (no hang) against 99 % at 22.
  retention: 24,
  mode: 'stop-and-copy',
  // Measured best on this platform (README: checkpoint modes and prediction).
  predictor: 'cost',
  precopy: true,
  autoRecover: true,
  hangTimeoutMs: 500,
  selfCheckLatencyMs: 1000,
  crashLatencyMs: 0,
  recurrenceWindowMs: 5000,
  autoTune: false,
  overheadBudgetPct: 3,
  // The availability model's default: a reasonably reliable host.
  errorRatePerHour: 0.01,
};

/**
 * The defaults for a new VM on this host. Where KVM itself runs under
 * software emulation (the KVM rig, e2e/kvm-rig) a guest slowed by
 * checkpoint faults that cost 10-40x more can go seconds between two
 * progress ticks: the heartbeat's 500 ms took such a guest for hung within
 * a second of its first checkpoint and, with nothing yet to roll back to,
 * failed it. There the hang detector waits ten times as long, a recurrence
 * is counted over a window three times as long, and five times the
 * checkpoints are kept, so that recovery still reaches back past the
 * heartbeat's longer latency bound (6 s at 50 ms).
 */
export function defaultSettingsFor(host: { emulated: boolean }): CheckpointSettings {
  if (!host.emulated) return { ...defaultSettings };
  return {
    ...defaultSettings,
    hangTimeoutMs: 10 * defaultSettings.hangTimeoutMs,
    recurrenceWindowMs: 3 * defaultSettings.recurrenceWindowMs,
    retention: 5 * defaultSettings.retention,
  };
}

/**
 * A guest kernel watched without code of ours (a Linux domain): its
 * progress is a heartbeat agent's tick every few hundred ms, if it runs
 * one, and its vCPUs, which a kernel may leave idle for seconds. Hangs are
 * called after 10 s (Linux's own soft-lockup detector waits 20), a
 * recurrence is counted over 25 s, and up to 30 s of checkpoints are kept
 * (every 100 ms) so that recovery reaches back past that bound, as far as
 * the memory bound allows (in the rig, 12-15 s of a busy Linux guest).
 */
export const guestKernelSettings: Partial<CheckpointSettings> = {
  intervalMs: 100,
  retention: 300,
  hangTimeoutMs: 10_000,
  recurrenceWindowMs: 25_000,
};

const settingKinds: Record<keyof CheckpointSettings, 'boolean' | 'integer' | 'number' | readonly string[]> = {
  enabled: 'boolean',
  intervalMs: 'integer',
  retention: 'integer',
  mode: ['stop-and-copy', 'cow'],
  predictor: ['off', 'history', 'frontier', 'cost'],
  precopy: 'boolean',
  autoRecover: 'boolean',
  hangTimeoutMs: 'integer',
  selfCheckLatencyMs: 'integer',
  crashLatencyMs: 'integer',
  recurrenceWindowMs: 'integer',
  autoTune: 'boolean',
  overheadBudgetPct: 'number',
  errorRatePerHour: 'number',
};

/**
 * Refuses a settings change that names an unknown setting or gives one a
 * value of the wrong kind; ranges are checked on the settings it yields.
 */
export function checkSettingsPatch(patch: Record<string, unknown>): asserts patch is Partial<CheckpointSettings> {
  for (const [name, value] of Object.entries(patch)) {
    if (!Object.hasOwn(settingKinds, name)) throw new EngineError('invalid-argument', `unknown setting ${name.slice(0, 64)}`);
    const kind = settingKinds[name as keyof CheckpointSettings];
    const fits = Array.isArray(kind)
      ? kind.includes(value as string)
      : kind === 'boolean'
        ? typeof value === 'boolean'
        : kind === 'integer'
          ? Number.isSafeInteger(value)
          : typeof value === 'number' && Number.isFinite(value);
    if (!fits) throw new EngineError('invalid-argument', `${name} must be ${Array.isArray(kind) ? `one of ${kind.join(', ')}` : `a${kind === 'integer' ? 'n' : ''} ${kind}`}`);
  }
}

/** Settings stored before a field existed take its default. */
export function withDefaultSettings(stored: Partial<CheckpointSettings>): CheckpointSettings {
  return { ...defaultSettings, ...stored };
}

export const defaultSpec: Omit<VmSpec, 'name' | 'workload'> = {
  backend: 'kvm',
  memoryMiB: 256,
  vcpus: 1,
  seed: 1,
  size: 0,
  param: 0,
  repeat: 0,
};

/** How often an agent samples its guest's progress: the hang detector's resolution. */
export const progressSampleMs = 250;

/** Refuses settings outside their ranges, naming the first one that is. */
export function checkSettings(settings: CheckpointSettings): void {
  const { intervalMs, retention } = settings;
  if (!Number.isInteger(intervalMs) || intervalMs < limits.intervalMs.min || intervalMs > limits.intervalMs.max) {
    throw new EngineError('invalid-argument', `intervalMs must be an integer from ${limits.intervalMs.min} to ${limits.intervalMs.max}`);
  }
  if (!Number.isInteger(retention) || retention < limits.retention.min || retention > limits.retention.max) {
    throw new EngineError('invalid-argument', `retention must be an integer from ${limits.retention.min} to ${limits.retention.max}`);
  }
  const inRange = (name: keyof CheckpointSettings, range: { min: number; max: number }) => {
    const value = settings[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
      throw new EngineError('invalid-argument', `${name} must be an integer from ${range.min} to ${range.max}`);
    }
  };
  inRange('hangTimeoutMs', limits.hangTimeoutMs);
  inRange('selfCheckLatencyMs', limits.latencyBoundMs);
  inRange('crashLatencyMs', limits.latencyBoundMs);
  inRange('recurrenceWindowMs', limits.recurrenceWindowMs);
  if (typeof settings.autoRecover !== 'boolean') throw new EngineError('invalid-argument', 'autoRecover must be true or false');
  if (typeof settings.autoTune !== 'boolean') throw new EngineError('invalid-argument', 'autoTune must be true or false');
  const inReals = (name: 'overheadBudgetPct' | 'errorRatePerHour', range: { min: number; max: number }) => {
    const value = settings[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < range.min || value > range.max) {
      throw new EngineError('invalid-argument', `${name} must be a number from ${range.min} to ${range.max}`);
    }
  };
  inReals('overheadBudgetPct', limits.overheadBudgetPct);
  inReals('errorRatePerHour', limits.errorRatePerHour);
  // A recurrence shows up as a new alert; the window must be long enough to see one.
  const bounds = Object.entries(detectorBoundsMs(settings, progressSampleMs));
  const slowest = Math.max(...bounds.map(([, ms]) => ms));
  if (settings.recurrenceWindowMs <= slowest) {
    const listed = bounds.filter(([, ms]) => ms > 0).map(([name, ms]) => `${name} ${ms}`).join(', ');
    throw new EngineError(
      'invalid-argument',
      `recurrenceWindowMs (${settings.recurrenceWindowMs}) must exceed the detectors' latency bounds (ms: ${listed}), or a recurrence would go unseen`,
    );
  }
}
