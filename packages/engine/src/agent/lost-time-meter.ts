// The live overhead an operator can trust: the share of time the guest lost
// to checkpointing over a sliding window, measured epoch by epoch from what
// the engine itself times (the pause, and the write faults' estimated
// cost). It is never negative and needs no calibration. The alternative,
// comparing the guest's progress rate against a rate calibrated before
// protection began, swings by tens of percent on a guest whose own speed
// varies (-48 % and +189 % were seen on a steady demo); it stays, second,
// as the calibrated figure.
export class LostTimeMeter {
  readonly #windowMs: number;
  #epochs: { time: number; lostUs: number }[] = [];

  constructor(windowMs = 2000) {
    this.#windowMs = windowMs;
  }

  /** An epoch that ended at `time` (ms) after the guest lost `lostUs` to its checkpoint. */
  observe(time: number, lostUs: number): void {
    const last = this.#epochs.at(-1);
    if (last && time < last.time) this.#epochs = []; // a clock step: start over
    this.#epochs.push({ time, lostUs: Math.max(0, lostUs) });
    while (this.#epochs.length > 2 && time - this.#epochs[1]!.time >= this.#windowMs) this.#epochs.shift();
  }

  reset(): void {
    this.#epochs = [];
  }

  /**
   * Time lost per unit of time the guest ran, in %, over the epochs after the
   * window's first (whose start is the first's end); null until they span 500 ms.
   */
  get overheadPct(): number | null {
    const first = this.#epochs[0];
    const last = this.#epochs.at(-1);
    if (!first || !last || last.time - first.time < 500) return null;
    const spanUs = (last.time - first.time) * 1000;
    const lostUs = Math.min(
      this.#epochs.slice(1).reduce((sum, epoch) => sum + epoch.lostUs, 0),
      spanUs * 0.99, // a guest that lost everything ran 1 % at most: a bounded figure
    );
    return (lostUs / (spanUs - lostUs)) * 100;
  }
}
