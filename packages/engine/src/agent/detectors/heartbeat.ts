// Heartbeat: the guest's progress counter not advancing for longer than a
// threshold is a hang. Only a running guest is watched: calibration, a
// pause, a rollback in progress or a finished run are no hang.
import type { CheckpointSettings } from '../../config.js';
import type { Detection, Detector, Observation } from './detector.js';

export class HeartbeatDetector implements Detector {
  readonly name = 'heartbeat';
  /** How often the agent samples progress: a hang is seen up to one sample late. */
  readonly #samplePeriodMs: number;
  #lastUnits: number | null = null;
  #lastAdvance = 0;
  #fired = false;

  constructor(samplePeriodMs: number) {
    this.#samplePeriodMs = samplePeriodMs;
  }

  /**
   * Progress was seen advancing between the sample before the last advance
   * and that advance: the guest stopped at most one sample period before
   * it, and is declared hung at most one sample period after the threshold.
   */
  latencyBoundMs(settings: CheckpointSettings): number {
    return settings.hangTimeoutMs + 2 * this.#samplePeriodMs;
  }

  observe({ now, state, progress, settings }: Observation): Detection[] {
    if (state !== 'running' || progress.units !== this.#lastUnits) {
      this.#lastUnits = progress.units;
      this.#lastAdvance = now;
      this.#fired = false;
      return [];
    }
    const stalledMs = now - this.#lastAdvance;
    if (this.#fired || stalledMs <= settings.hangTimeoutMs) return [];
    // One alert per stall: the next needs progress (or a reset) first.
    this.#fired = true;
    return [
      {
        detector: this.name,
        time: now,
        message: `the guest made no progress for ${Math.round(stalledMs)} ms (threshold ${settings.hangTimeoutMs} ms)`,
        evidence: { units: progress.units, stalledMs: Math.round(stalledMs), hangTimeoutMs: settings.hangTimeoutMs, lastProgressAt: this.#lastAdvance },
        latencyBoundMs: Math.round(stalledMs) + this.#samplePeriodMs,
        recoverable: true,
      },
    ];
  }

  reset(now: number): void {
    this.#lastUnits = null;
    this.#lastAdvance = now;
    this.#fired = false;
  }
}
