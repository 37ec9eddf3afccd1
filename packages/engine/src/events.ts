// Typed telemetry: what an agent reports about its VM, and what the server
// streams to dashboards (WS /ws/telemetry), counts in /metrics and keeps in
// its event history. Every event names its VM and carries a Unix time in ms.
import type { CheckpointMode, PredictorName, VmState } from './config.js';
import type { Injection } from './faults.js';

/** One per checkpoint epoch, at the epoch rate (tens per second per VM). */
export interface EpochEvent {
  type: 'epoch';
  vmId: string;
  time: number;
  /** Epoch sequence number; equals the checkpoint seq taken at its end. */
  seq: number;
  mode: CheckpointMode;
  intervalMs: number;
  dirtyPages: number;
  /** Of dirtyPages, copied in the pause, and copied ahead while the guest ran (stop-and-copy). */
  pagesCopied: number;
  pagesPrecopied: number;
  pauseUs: number;
  /** Write faults the guest took in the epoch, and the time they cost it (estimated). */
  faults: number;
  faultUs: number;
  /** How long after it was due the checkpoint began: the engine was still busy (e.g. backing store memory for a large first copy). */
  lateUs: number;
  /** Dirty-page prediction: hot pages, their hits and misses; null when prediction is off or nothing was predicted/written. */
  predicted: number;
  truePositives: number;
  falsePositives: number;
  misses: number;
  precision: number | null;
  recall: number | null;
  storeBytes: number;
  checkpointsRetained: number;
  /** Guest work units per second over the epoch (from its progress counter). */
  progressRate: number;
  /** Live overhead: time the guest lost to checkpoints (pauses, write faults) per time it ran, %, over ~2 s; never negative; null until measured. */
  overheadPct: number | null;
  /** Secondary: the progress rate calibrated unprotected / the current one - 1, %; swings with the guest's own speed; null until calibrated. */
  overheadCalibratedPct: number | null;
  /** Epoch records the agent dropped before this one because it was behind. */
  coalesced: number;
}

export interface CheckpointEvent {
  type: 'checkpoint';
  vmId: string;
  time: number;
  seq: number;
  pages: number;
  bytes: number;
  /** Taken on request (API or CLI) rather than by the epoch timer. */
  manual: boolean;
}

export type RollbackCause = 'operator' | 'recovery';

export interface RollbackEvent {
  type: 'rollback';
  vmId: string;
  time: number;
  /** The checkpoint asked for ('latest'/'safe' resolved to a seq when known). */
  target: number | 'latest' | 'safe';
  cause: RollbackCause;
  ok: boolean;
  /** Set when ok. */
  seq?: number;
  pagesRestored?: number;
  checkpointsDropped?: number;
  durationUs?: number;
  /** Set when not ok. */
  error?: string;
}

export interface AlertEvent {
  type: 'alert';
  /** Unique; recovery events and injections refer to it. */
  alertId: string;
  vmId: string;
  time: number;
  detector: string;
  message: string;
  /** Detector-specific facts behind the alert. */
  evidence: Record<string, unknown>;
  /** The detection-latency bound the detector promises, in ms. */
  latencyBoundMs: number;
  /** What the agent did about it. */
  action: 'none' | 'rollback' | 'failed';
  /** Why that action (e.g. automatic recovery is off, or which checkpoint was chosen). */
  actionReason?: string;
  /** The injection this alert is attributed to, when one was pending. */
  injectionId?: string;
}

/**
 * How a recovery ended: `recovered` once the recurrence window passed after
 * its last rollback, `failed` when no retained checkpoint was left (the VM
 * is failed then). `recurred` marks each fall back to an older checkpoint.
 */
export interface RecoveryEvent {
  type: 'recovery';
  vmId: string;
  time: number;
  /** The alert that started the recovery. */
  alertId: string;
  detector: string;
  outcome: 'recurred' | 'recovered' | 'failed';
  /** Recovery rollbacks done so far. */
  rollbacks: number;
  /** The checkpoint the VM runs from (recovered), or the one it fell back from (recurred). */
  seq?: number;
  message: string;
}

/** An injection as it was made and each time its outcome is known better. */
export interface FaultEvent {
  type: 'fault';
  vmId: string;
  time: number;
  injection: Injection;
}

/**
 * Auto-tune changed the checkpoint interval: from, to, why, and the model's
 * numbers behind the decision.
 */
export interface IntervalTunedEvent {
  type: 'interval-tuned';
  vmId: string;
  time: number;
  from: number;
  to: number;
  /** model: a better interval within the budget; model-over-budget: the one in force broke it on paper; measured-over-budget: in reality. */
  cause: 'model' | 'model-over-budget' | 'measured-over-budget';
  reason: string;
  dirtyPagesPerSecond: number;
  /** The model's overhead and availability at the new interval. */
  modelledOverheadPct: number;
  modelledAvailability: number;
  /** The live overhead when the decision was made, %. */
  measuredOverheadPct: number | null;
  overheadBudgetPct: number;
}

export interface VmStateEvent {
  type: 'vm-state';
  vmId: string;
  time: number;
  state: VmState;
  /** Why the VM is in this state, for failed/crashed/stopped ones. */
  reason?: string;
}

export interface ConsoleEvent {
  type: 'console';
  vmId: string;
  time: number;
  line: string;
}

export type TelemetryEvent =
  | EpochEvent
  | CheckpointEvent
  | RollbackEvent
  | AlertEvent
  | RecoveryEvent
  | FaultEvent
  | IntervalTunedEvent
  | VmStateEvent
  | ConsoleEvent;

export type TelemetryType = TelemetryEvent['type'];
