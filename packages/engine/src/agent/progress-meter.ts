// The guest's progress rate over a sliding window, from samples of its
// monotonic work counter. A rollback rewinds the counter: the window
// restarts rather than reporting a negative rate.
export class ProgressMeter {
  readonly #windowMs: number;
  #samples: { time: number; units: number }[] = [];

  constructor(windowMs = 1000) {
    this.#windowMs = windowMs;
  }

  sample(time: number, units: number): void {
    const last = this.#samples.at(-1);
    if (last && units < last.units) this.#samples = [];
    this.#samples.push({ time, units });
    while (this.#samples.length > 2 && time - this.#samples[1]!.time >= this.#windowMs) this.#samples.shift();
  }

  reset(): void {
    this.#samples = [];
  }

  /** Units per second over the window; 0 until two samples span some time. */
  get rate(): number {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last || last.time <= first.time) return 0;
    return ((last.units - first.units) * 1000) / (last.time - first.time);
  }

  /** How much time the window covers, in ms. */
  get spanMs(): number {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    return first && last ? last.time - first.time : 0;
  }
}
