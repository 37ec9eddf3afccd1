// What became of one injection, and the class it falls in. The classes
// follow the fault-injection literature: a fault that changed nothing is
// not activated; one a detector caught either ended in a checksum-exact
// finish (recovered) or did not; one no detector caught either corrupted
// the result silently or left the guest hanging unnoticed.
import type { CampaignFaultKind } from './plan.js';

export const outcomeClasses = ['not-activated', 'recovered', 'detected-not-recovered', 'silent-wrong', 'undetected-hang'] as const;
export type OutcomeClass = (typeof outcomeClasses)[number];

/** Why a recovery rollback went past the newest checkpoint retained when the error was detected. */
export type BeyondNewestReason =
  /** The detector's latency bound reached back past newer checkpoints: they may hold the error. */
  | 'latency-bound'
  /** The bound reached back past every retained checkpoint: the oldest was taken as a best effort. */
  | 'history-shorter-than-bound'
  /** The error came back after a rollback: that checkpoint held it, an older one was tried. */
  | 'recurrence';

export interface RecoveryRollback {
  detector: string;
  /** The checkpoint rolled back to. */
  seq: number;
  /** Retained checkpoints newer than it when the alert came: how far past the newest it went. */
  skipped: number;
  /** It was taken after the fault was injected, so it may hold the error (a recurrence then sends recovery further back). */
  takenAfterFault: boolean;
  reason: BeyondNewestReason;
  /** From the alert to the VM running again from the checkpoint, ms. */
  recoveryMs: number;
  /** The in-place restore alone, ms. */
  restoreMs: number;
}

export interface RunEnd {
  /** The VM's state when the run was over (or the deadline passed). */
  state: string;
  reason: string | null;
  /** The finished run's checksum; null when it did not finish. */
  checksum: string | null;
  /** The deadline passed with the run neither finished nor failed. */
  timedOut: boolean;
  /** At the deadline: whether the guest's progress counter was still moving. */
  progressing: boolean;
}

/** One line of the campaign's journal: a planned injection at one retention, done. */
export interface InjectionRecord {
  index: number;
  retention: number;
  workload: string;
  kind: CampaignFaultKind;
  moment: number;
  faultSeed: number;
  /** Null when the fault could not be injected (the run ended first, or the primitive refused): not counted. */
  outcome: OutcomeClass | null;
  /** One sentence: why this class. */
  why: string;
  /** What the primitive did, as it described it. */
  fault?: string;
  /** The first detection after the injection. */
  detection?: { detector: string; latencyMs: number; boundMs: number };
  /** Detector alerts after the injection, and before it (false alarms). */
  alerts: number;
  falseAlarms: number;
  rollbacks: RecoveryRollback[];
  /** The injection's recovery time: every recovery rollback's alert-to-running time, summed. */
  recoveryMs?: number;
  /** Checkpoints retained at the first detection (the store bound may hold fewer than the retention). */
  retainedAtDetection?: number;
  end: RunEnd;
  expected: string;
  wallMs: number;
}

export interface Classified {
  outcome: OutcomeClass;
  why: string;
}

/** The class of an injection, from whether a detector fired and how the run ended. */
export function classify(detected: boolean, end: RunEnd, expected: string): Classified {
  const correct = end.checksum === expected;
  const finished = end.checksum !== null;
  if (detected) {
    if (correct) return { outcome: 'recovered', why: 'detected, and the run finished with the host checksum' };
    if (finished) return { outcome: 'detected-not-recovered', why: `detected, but the run finished with checksum ${end.checksum}, not ${expected}` };
    if (end.timedOut) return { outcome: 'detected-not-recovered', why: `detected, but the run did not finish by the deadline (${end.state})` };
    return { outcome: 'detected-not-recovered', why: `detected, but the VM ended ${end.state}${end.reason ? `: ${end.reason}` : ''}` };
  }
  if (correct) return { outcome: 'not-activated', why: 'no detector fired and the run finished with the host checksum' };
  if (finished) return { outcome: 'silent-wrong', why: `no detector fired and the run finished with checksum ${end.checksum}, not ${expected}` };
  if (end.timedOut) {
    const how = end.progressing ? 'still progressing (a livelock the heartbeat cannot see)' : 'without progress';
    return { outcome: 'undetected-hang', why: `no detector fired and the run did not finish by the deadline, ${how}` };
  }
  // Every way a run can end badly has a detector; this would be a gap in them.
  return { outcome: 'silent-wrong', why: `no detector fired and the VM ended ${end.state} without a result${end.reason ? `: ${end.reason}` : ''}` };
}
