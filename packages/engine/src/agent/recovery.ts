// Which checkpoint a recovery rolls back to. An error detected at time T by
// a detector with latency bound B happened no earlier than T - B, so the
// newest checkpoint taken at or before T - B cannot hold it. If the error
// recurs soon after the rollback, that checkpoint held it after all (the
// bound was optimistic, or the error was latent longer): the next older one
// is tried, down to the oldest retained. Checkpoints that failed their
// checksum are never chosen.
import type { BackendCheckpoint } from '../backend.js';

export interface TargetConstraints {
  /** Unix time, ms: the checkpoint must have been taken at or before it. */
  notAfter: number;
  /** The checkpoint must be older than this seq (the one that did not help). */
  olderThan?: number;
}

export interface RecoveryTarget {
  checkpoint: BackendCheckpoint;
  /**
   * False when no candidate was taken early enough: the oldest one is
   * chosen as a best effort (the retained history, retention x interval,
   * is shorter than the detector's latency bound) and may hold the error.
   */
  beforeBound: boolean;
}

export function chooseRecoveryTarget(checkpoints: readonly BackendCheckpoint[], { notAfter, olderThan }: TargetConstraints): RecoveryTarget | null {
  const candidates = checkpoints.filter((c) => c.verified && (olderThan === undefined || c.seq < olderThan));
  let newestBefore: BackendCheckpoint | null = null;
  let oldest: BackendCheckpoint | null = null;
  for (const checkpoint of candidates) {
    if (checkpoint.time <= notAfter && (!newestBefore || checkpoint.seq > newestBefore.seq)) newestBefore = checkpoint;
    if (!oldest || checkpoint.seq < oldest.seq) oldest = checkpoint;
  }
  if (newestBefore) return { checkpoint: newestBefore, beforeBound: true };
  return oldest ? { checkpoint: oldest, beforeBound: false } : null;
}

/** Why no target qualifies, for the alert and the failed VM's reason. */
export function explainNoTarget(checkpoints: readonly BackendCheckpoint[], { olderThan }: TargetConstraints): string {
  if (checkpoints.length === 0) return 'no checkpoint is retained';
  const verified = checkpoints.filter((c) => c.verified);
  if (verified.length === 0) return `none of the ${checkpoints.length} retained checkpoints is verified`;
  return `no verified checkpoint older than ${olderThan} is retained (the oldest is ${verified[0]!.seq})`;
}

/** One recovery from its first alert until the recurrence window passes without another. */
export interface RecoveryEpisode {
  alertId: string;
  detector: string;
  /** From the first alert: later attempts stay at or before it. */
  notAfter: number;
  rollbacks: number;
  /** The checkpoint the last recovery rollback went to. */
  lastSeq: number | null;
  /** Closes the episode as recovered when the window passes. */
  timer: NodeJS.Timeout | undefined;
}
