// The last epochs of each VM, kept in memory so that a dashboard opened (or
// reloaded) mid-run draws its charts at once rather than from empty: the
// database keeps only per-minute summaries of epochs. Bounded per VM, and
// forgotten with the VM.
import type { EpochEvent, TelemetryEvent } from '@uckpt/engine';

/** Two minutes of epochs at the default 50 ms interval. */
export const recentEpochsPerVm = 2400;

export class RecentEpochs {
  readonly #perVm: number;
  readonly #rings = new Map<string, { epochs: EpochEvent[]; next: number }>();

  constructor(perVm = recentEpochsPerVm) {
    this.#perVm = perVm;
  }

  observe(event: TelemetryEvent): void {
    if (event.type !== 'epoch') return;
    let ring = this.#rings.get(event.vmId);
    if (!ring) {
      ring = { epochs: [], next: 0 };
      this.#rings.set(event.vmId, ring);
    }
    if (ring.epochs.length < this.#perVm) ring.epochs.push(event);
    else ring.epochs[ring.next] = event;
    ring.next = (ring.next + 1) % this.#perVm;
  }

  /** The newest `limit` epochs of a VM, oldest first. */
  recent(vmId: string, limit = this.#perVm): EpochEvent[] {
    const ring = this.#rings.get(vmId);
    if (!ring) return [];
    const ordered = ring.epochs.length < this.#perVm ? ring.epochs : [...ring.epochs.slice(ring.next), ...ring.epochs.slice(0, ring.next)];
    return ordered.slice(-Math.max(0, limit));
  }

  forget(vmId: string): void {
    this.#rings.delete(vmId);
  }
}
