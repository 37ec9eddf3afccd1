// Campaign progress on stderr. On a terminal: one bar redrawn in place,
// with the time left and the last outcome. Otherwise (a log, a pipe): one
// plain line per injection, which is what a log wants.
import type { InjectionRecord } from './outcome.js';

const barWidth = 30;

export class CampaignProgress {
  readonly #total: number;
  readonly #tty = Boolean(process.stderr.isTTY);
  readonly #started = performance.now();
  #done: number;
  readonly #resumed: number;

  /** `done` injections were finished by an earlier run (resumed): they take no time now. */
  constructor(total: number, done: number) {
    this.#total = total;
    this.#done = done;
    this.#resumed = done;
  }

  completed(record: InjectionRecord): void {
    this.#done++;
    const last = `#${record.index} ${record.workload} ${record.kind} K=${record.retention}: ${record.outcome ?? 'not injected'}`;
    if (this.#tty) {
      const filled = Math.round((barWidth * this.#done) / this.#total);
      const bar = `${'='.repeat(filled)}${filled < barWidth ? '>' : ''}${' '.repeat(Math.max(0, barWidth - filled - 1))}`;
      const columns = process.stderr.columns ?? 120;
      const line = `[${bar}] ${this.#done}/${this.#total}${this.#eta()}  ${last}`;
      process.stderr.write(`\r\x1b[K${line.slice(0, columns - 1)}`);
    } else {
      process.stderr.write(`[${this.#done}/${this.#total}] ${last} (${(record.wallMs / 1000).toFixed(1)} s)${this.#eta()}\n`);
    }
  }

  /** Ends the bar's line so that what follows starts on its own. */
  end(): void {
    if (this.#tty && this.#done > this.#resumed) process.stderr.write('\n');
  }

  #eta(): string {
    const ranNow = this.#done - this.#resumed;
    const left = this.#total - this.#done;
    if (ranNow === 0 || left === 0) return '';
    const seconds = ((performance.now() - this.#started) / ranNow / 1000) * left;
    return seconds < 90 ? `, ${Math.ceil(seconds)} s left` : `, ${(seconds / 60).toFixed(0)} min left`;
  }
}
