// The injections made into one VM and what became of them: the first alert
// after an injection is attributed to it (integrity alerts only to
// corrupted checkpoint pages, the others only to faults of the guest), and
// the recovery that alert started settles it.
import { randomBytes } from 'node:crypto';
import type { FaultEffect, FaultRequest, Injection, RecoveryOutcome } from '../faults.js';
import type { Detection } from './detectors/index.js';

const kept = 200;

export class FaultTracker {
  readonly #vmId: string;
  readonly #onChange: (injection: Injection) => void;
  #injections: Injection[] = [];

  constructor(vmId: string, onChange: (injection: Injection) => void) {
    this.#vmId = vmId;
    this.#onChange = onChange;
  }

  record(request: FaultRequest, effect: FaultEffect, time: number): Injection {
    const injection: Injection = { id: `inj-${randomBytes(5).toString('hex')}`, vmId: this.#vmId, time, request, effect, status: 'pending' };
    this.#injections.push(injection);
    if (this.#injections.length > kept) this.#injections.splice(0, this.#injections.length - kept);
    this.#onChange(injection);
    return injection;
  }

  /** Attributes the detection to the oldest pending injection it can explain; returns that injection. */
  attribute(alertId: string, detection: Detection): Injection | undefined {
    const ofCheckpoints = detection.detector === 'checkpoint-integrity';
    const injection = this.#injections.find(
      (i) => i.status === 'pending' && i.time <= detection.time && (i.request.kind === 'checkpoint-page') === ofCheckpoints,
    );
    if (!injection) return undefined;
    injection.status = 'detected';
    injection.detection = { detector: detection.detector, alertId, time: detection.time, latencyMs: detection.time - injection.time };
    // An integrity alert is the whole story: the checkpoint is never used.
    if (ofCheckpoints) injection.recovery = { outcome: 'recovered', rollbacks: 0, message: 'the corrupted checkpoint is excluded from rollbacks' };
    this.#onChange(injection);
    return injection;
  }

  /** The recovery started by this alert ended. */
  settle(alertId: string, outcome: RecoveryOutcome, rollbacks: number, seq: number | undefined, message: string): void {
    for (const injection of this.#injections) {
      if (injection.detection?.alertId !== alertId || injection.recovery) continue;
      injection.recovery = { outcome, rollbacks, ...(seq !== undefined ? { seq } : {}), message };
      this.#onChange(injection);
    }
  }

  /** The run ended: what is still pending was never detected (it may never have mattered). */
  closePending(): void {
    for (const injection of this.#injections) {
      if (injection.status !== 'pending') continue;
      injection.status = 'undetected';
      this.#onChange(injection);
    }
  }

  list(): Injection[] {
    return this.#injections.map((injection) => structuredClone(injection));
  }
}
