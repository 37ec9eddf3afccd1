// The guest writes its console, so the guest decides how much arrives: a
// broken or hostile one could write without end. Lines pass through this
// gate on their way to the tail, the telemetry and the event history: each
// is cut to a bounded length and stripped of control characters, and past a
// steady rate (with a burst allowance) lines are dropped, the next line
// admitted saying how many.
export const maxConsoleLineChars = 1024;

export interface ConsoleGateOptions {
  linesPerSecond: number;
  burst: number;
}

export const defaultConsoleGate: ConsoleGateOptions = { linesPerSecond: 100, burst: 200 };

export class ConsoleGate {
  readonly #options: ConsoleGateOptions;
  #tokens: number;
  #refilledAt: number;
  #dropped = 0;

  constructor(options: ConsoleGateOptions = defaultConsoleGate, now = Date.now()) {
    this.#options = options;
    this.#tokens = options.burst;
    this.#refilledAt = now;
  }

  /** The line as it may be shown, or null if it is dropped. */
  admit(line: string, now = Date.now()): string | null {
    const { linesPerSecond, burst } = this.#options;
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilledAt) / 1000) * linesPerSecond);
    this.#refilledAt = now;
    if (this.#tokens < 1) {
      this.#dropped++;
      return null;
    }
    this.#tokens--;
    const text = clean(line);
    if (this.#dropped === 0) return text;
    const note = `[${this.#dropped} console lines dropped: the guest wrote more than ${linesPerSecond} a second] `;
    this.#dropped = 0;
    return note + text;
  }
}

function clean(line: string): string {
  // eslint-disable-next-line no-control-regex
  const printable = line.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
  return printable.length > maxConsoleLineChars ? `${printable.slice(0, maxConsoleLineChars)}…` : printable;
}
