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
  /** The lost time of every epoch in the window but the first (whose start is before the window): kept, not summed per epoch. */
  #lostAfterFirstUs = 0;

  constructor(windowMs = 2000) {
    this.#windowMs = windowMs;
  }

  /** An epoch that ended at `time` (ms) after the guest lost `lostUs` to its checkpoint. */
  observe(time: number, lostUs: number): void {
    const last = this.#epochs.at(-1);
    if (last && time < last.time) this.reset(); // a clock step: start over
    const epoch = { time, lostUs: Math.max(0, lostUs) };
    if (this.#epochs.length > 0) this.#lostAfterFirstUs += epoch.lostUs;
    this.#epochs.push(epoch);
    while (this.#epochs.length > 2 && time - this.#epochs[1]!.time >= this.#windowMs) {
      this.#epochs.shift();
      this.#lostAfterFirstUs -= this.#epochs[0]!.lostUs; // the new first's loss is before the window now
    }
  }

  reset(): void {
    this.#epochs = [];
    this.#lostAfterFirstUs = 0;
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
    // A guest that lost everything ran 1 % at most: a bounded figure.
    const lostUs = Math.min(this.#lostAfterFirstUs, spanUs * 0.99);
    return (lostUs / (spanUs - lostUs)) * 100;
  }
}
