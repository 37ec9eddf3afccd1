// Which checkpoint a recovery rolls back to. An error detected at time T by
// a detector with latency bound B happened no earlier than T - B, so the
// newest checkpoint taken at or before T - B cannot hold it. If the error
// recurs soon after the rollback, that checkpoint held it after all (the
// bound was optimistic, or the error was latent longer): the next older one
// is tried, down to the oldest retained. Checkpoints that failed their
// checksum are never chosen.
import type { BackendCheckpoint } from '../backend.js';
import type { AlertEvent, RecoveryEvent } from '../events.js';
import type { RecoveryOutcome } from '../faults.js';
import type { Detection } from './detectors/index.js';

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

/** Why the recovery chose its checkpoint, for the alert. */
function describeChoice(choice: RecoveryTarget, notAfter: number, boundMs: number, olderThan: number | undefined): string {
  const older = olderThan !== undefined ? `, older than ${olderThan}` : '';
  const seq = choice.checkpoint.seq;
  if (choice.beforeBound) return `rolling back to checkpoint ${seq}, the newest verified one taken before ${new Date(notAfter).toISOString()} (detection - ${boundMs} ms)${older}`;
  return `rolling back to checkpoint ${seq}, the oldest verified one retained${older}: none was taken before ${new Date(notAfter).toISOString()} (detection - ${boundMs} ms), so it may hold the error; retain more checkpoints to cover the latency bound`;
}

/** One recovery from its first alert until the recurrence window passes without another. */
interface RecoveryEpisode {
  alertId: string;
  alertIds: string[];
  detector: string;
  /** From the first alert: later attempts stay at or before it. */
  notAfter: number;
  rollbacks: number;
  /** The checkpoint the last recovery rollback went to. */
  lastSeq: number | null;
  /** Closes the episode as recovered when the window passes. */
  timer: NodeJS.Timeout | undefined;
}

/** What a recovery needs of its VM's agent. */
export interface RecoveryHost {
  readonly vmId: string;
  /** Why the VM cannot be recovered now (e.g. it finished), or null. */
  unrecoverable(): string | null;
  checkpoints(): BackendCheckpoint[];
  recurrenceWindowMs(): number;
  /** Rolls the VM back in place, as a recovery. */
  rollback(seq: number): Promise<unknown>;
  /** Runs the checkpoint-integrity detector after a refused rollback; true if it found a corrupt checkpoint (and alerted). */
  reportCorruptCheckpoints(): boolean;
  emit(event: AlertEvent | RecoveryEvent): void;
  /** Records how the alerts of an episode ended, for the injections they are attributed to. */
  settle(alertId: string, outcome: Exclude<RecoveryOutcome, 'alert-only'>, rollbacks: number, seq: number | undefined, message: string): void;
  fail(reason: string): void;
}

/**
 * The recovery policy over time: an alert starts an episode that rolls back
 * to the newest verified checkpoint taken before the detection time minus
 * the detector's latency bound; an alert while the episode's recurrence
 * window is open means that checkpoint held the error too, and the next
 * older one is tried. The episode ends recovered when the window passes
 * quietly, or failed when no checkpoint is left to try.
 */
export class RecoveryEpisodes {
  readonly #host: RecoveryHost;
  #episode: RecoveryEpisode | null = null;

  constructor(host: RecoveryHost) {
    this.#host = host;
  }

  /** A recovery is under way (auto-tuning waits for it). */
  get active(): boolean {
    return this.#episode !== null;
  }

  /** The checkpoint the current episode last went to: a "safe" rollback goes further back. */
  get lastSeq(): number | null {
    return this.#episode?.lastSeq ?? null;
  }

  async recover(alert: Omit<AlertEvent, 'action'>, detection: Detection): Promise<void> {
    const host = this.#host;
    const unrecoverable = host.unrecoverable();
    if (unrecoverable) {
      host.emit({ ...alert, action: 'none', actionReason: unrecoverable });
      return;
    }
    let episode = this.#episode;
    let olderThan: number | undefined;
    if (episode) {
      clearTimeout(episode.timer);
      episode.alertIds.push(alert.alertId);
      olderThan = episode.lastSeq ?? undefined;
      this.#emitRecovery(episode, 'recurred', `${detection.detector} alert ${alert.alertId} came within ${host.recurrenceWindowMs()} ms of the rollback to checkpoint ${episode.lastSeq}: it held the error too; trying an older one`);
    } else {
      episode = { alertId: alert.alertId, alertIds: [alert.alertId], detector: detection.detector, notAfter: detection.time - detection.latencyBoundMs, rollbacks: 0, lastSeq: null, timer: undefined };
      this.#episode = episode;
    }
    let alerted = false;
    for (;;) {
      const constraints: TargetConstraints = { notAfter: episode.notAfter, ...(olderThan !== undefined ? { olderThan } : {}) };
      const choice = chooseRecoveryTarget(host.checkpoints(), constraints);
      if (!choice) {
        const why = explainNoTarget(host.checkpoints(), constraints);
        if (!alerted) host.emit({ ...alert, action: 'failed', actionReason: why });
        this.end('failed', why);
        return;
      }
      const target = choice.checkpoint;
      if (!alerted) {
        host.emit({ ...alert, action: 'rollback', actionReason: describeChoice(choice, episode.notAfter, detection.latencyBoundMs, olderThan) });
        alerted = true;
      }
      try {
        await host.rollback(target.seq);
      } catch (error) {
        // The epoch loop retired the target between the choice and the rollback (a running guest keeps being checkpointed): choose again.
        if (!host.checkpoints().some((c) => c.seq === target.seq)) continue;
        // A checksum mismatch marks a checkpoint corrupt: report it and go further back.
        if (!host.reportCorruptCheckpoints()) {
          this.end('failed', `the rollback to checkpoint ${target.seq} was refused: ${(error as Error).message}`);
          return;
        }
        olderThan = target.seq;
        continue;
      }
      episode.rollbacks++;
      episode.lastSeq = target.seq;
      const closing = episode;
      episode.timer = setTimeout(() => {
        if (this.#episode === closing) this.end('recovered', `no recurrence within ${host.recurrenceWindowMs()} ms of the rollback to checkpoint ${closing.lastSeq}`);
      }, host.recurrenceWindowMs());
      return;
    }
  }

  /** Ends the episode under way, if any, with its outcome. */
  end(outcome: Exclude<RecoveryOutcome, 'alert-only'>, message: string): void {
    const episode = this.#episode;
    if (!episode) return;
    clearTimeout(episode.timer);
    this.#episode = null;
    this.#emitRecovery(episode, outcome, message);
    for (const alertId of episode.alertIds) this.#host.settle(alertId, outcome, episode.rollbacks, episode.lastSeq ?? undefined, message);
    if (outcome === 'failed') this.#host.fail(`recovery failed after ${episode.detector} alert ${episode.alertId}: ${message}`);
  }

  /** Stops the episode's timer without ending it (the VM is going away). */
  dispose(): void {
    clearTimeout(this.#episode?.timer);
  }

  #emitRecovery(episode: RecoveryEpisode, outcome: RecoveryEvent['outcome'], message: string): void {
    this.#host.emit({
      type: 'recovery', vmId: this.#host.vmId, time: Date.now(), alertId: episode.alertId, detector: episode.detector, outcome,
      rollbacks: episode.rollbacks, ...(episode.lastSeq !== null ? { seq: episode.lastSeq } : {}), message,
    });
  }
}
