// Console: a kernel reporting its own error on the guest's console (Linux's
// "Kernel panic", "Oops", "BUG:", a general protection fault, a soft lockup
// or an RCU stall). It needs no guest code of ours, and sees errors that do
// not stop the guest (an Oops without oops=panic, a lockup). A kernel
// WARNING is left out: drivers warn about things a rollback cannot change.
import type { CheckpointSettings } from '../../config.js';
import type { Detection, Detector, Observation } from './detector.js';

/** What a kernel in trouble prints, each with what it means. */
export const kernelErrorLines: readonly { pattern: RegExp; meaning: string }[] = [
  { pattern: /Kernel panic - not syncing/, meaning: 'a kernel panic' },
  { pattern: /\bOops\b/, meaning: 'a kernel oops' },
  { pattern: /\bBUG: /, meaning: 'a kernel BUG' },
  { pattern: /general protection fault/, meaning: 'a general protection fault in the kernel' },
  { pattern: /soft lockup - CPU#\d+ stuck/, meaning: 'a soft lockup' },
  { pattern: /rcu: INFO: \S+ (self-)?detected stall/, meaning: 'an RCU stall' },
];

/**
 * Console lines reach the agent this long after the guest printed them: a
 * Xen domain's console log is read every 200 ms (KVM's serial output
 * arrives at once), and the agent looks at new lines every sample.
 */
export const consoleDelayMs = 500;

/**
 * Lines the guest printed before a rollback can still arrive this long
 * after it: under the rig's emulation a panic's line came more than 500 ms
 * after the crash it preceded had been recovered. They are the old guest's.
 */
export const lateLinesAfterRollbackMs = 2000;

/** After an alert, further matches are one error's trace, not a new error. */
const quietAfterAlertMs = 10_000;

export class ConsoleDetector implements Detector {
  readonly name = 'console';
  #quietUntil = 0;

  /** The kernel prints as it finds the error; as late as a crash would show it, plus the console's delay. */
  latencyBoundMs(settings: CheckpointSettings): number {
    return settings.crashLatencyMs + consoleDelayMs;
  }

  observe({ now, consoleLines, settings }: Observation): Detection[] {
    if (now < this.#quietUntil) return [];
    for (const line of consoleLines) {
      const match = kernelErrorLines.find(({ pattern }) => pattern.test(line));
      if (!match) continue;
      this.#quietUntil = now + quietAfterAlertMs;
      return [
        {
          detector: this.name,
          time: now,
          message: `the console shows ${match.meaning}: ${line.trim()}`,
          evidence: { line },
          latencyBoundMs: this.latencyBoundMs(settings),
          recoverable: true,
        },
      ];
    }
    return [];
  }

  /** Lines of the guest that was rolled back may still be on their way for a while. */
  reset(now: number): void {
    this.#quietUntil = now + lateLinesAfterRollbackMs;
  }
}
