// Progress on stderr while the benchmark runs, with an estimate of the time left.
import type { Vm } from '@uckpt/native-kvm';
import { describeSpec, median, specKey, type BenchSpec } from './summary.js';

export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 90) return `${s.toFixed(1)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/**
 * Progress on stderr: a line per run, "[i/n] label ... time (estimate)".
 * On a terminal the line also shows the guest's progress while it runs.
 */
export class BenchProgress {
  readonly t0 = performance.now();
  readonly #plan: BenchSpec[];
  readonly #wall = new Map<number, number>();
  readonly #tty = Boolean(process.stderr.isTTY);
  #timer: NodeJS.Timeout | undefined;
  #prefix = '';
  #open = false;

  constructor(plan: BenchSpec[]) {
    this.#plan = plan;
  }

  start(i: number): void {
    const spec = this.#plan[i]!;
    const rep = this.#plan.some((s) => s.repetition > 0) ? ` (rep ${spec.repetition + 1})` : '';
    this.#prefix = `[${i + 1}/${this.#plan.length}] ${spec.workload} ${describeSpec(spec)}${rep} ...`;
    process.stderr.write(this.#prefix);
    this.#open = true;
  }

  /** Ends a line left open by a failed run. */
  abort(): void {
    if (this.#open) process.stderr.write(' failed\n');
    this.#open = false;
  }

  watch(vm: Vm): void {
    if (!this.#tty) return;
    this.#timer = setInterval(() => {
      if (vm.state !== 'running') return;
      const { progress, progressTotal } = vm.mailbox();
      const pct = progressTotal ? Math.min(100, (100 * progress) / progressTotal) : 0;
      process.stderr.write(`\r\x1b[K${this.#prefix} ${pct.toFixed(0)}%`);
    }, 500);
    this.#timer.unref();
  }

  unwatch(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    // On failure, end the line so that the error starts on its own.
    if (this.#tty) process.stderr.write(`\r\x1b[K${this.#prefix}`);
  }

  finish(i: number, wallMs: number): void {
    this.#open = false;
    this.#wall.set(i, wallMs);
    const left = this.#plan.length - i - 1;
    let tail = '';
    if (left > 0) {
      const eta = this.#estimate(i + 1);
      tail = `  (${left} run${left === 1 ? '' : 's'} left${eta === undefined ? '' : `, about ${formatDuration(eta)}`})`;
    }
    process.stderr.write(` ${(wallMs / 1000).toFixed(1)} s${tail}\n`);
  }

  /**
   * Time for runs from..end: a run already made (earlier repetition) takes
   * its median; otherwise the workload's off time times the ratio the same
   * kind of run showed on other workloads; failing that, averages.
   */
  #estimate(from: number): number | undefined {
    const done = [...this.#wall.entries()].map(([i, ms]) => ({ spec: this.#plan[i]!, ms }));
    if (done.length === 0) return undefined;
    const offMs = (workload: string) => {
      const offs = done.filter((d) => d.spec.workload === workload && d.spec.kind === 'off').map((d) => d.ms);
      return offs.length ? median(offs) : undefined;
    };
    const allOffs = done.filter((d) => d.spec.kind === 'off').map((d) => d.ms);
    const meanOff = allOffs.length ? allOffs.reduce((a, b) => a + b, 0) / allOffs.length : undefined;
    let total = 0;
    for (const spec of this.#plan.slice(from)) {
      const key = specKey(spec);
      const same = done.filter((d) => d.spec.workload === spec.workload && specKey(d.spec) === key).map((d) => d.ms);
      if (same.length) {
        total += median(same);
        continue;
      }
      const ratios = done
        .filter((d) => specKey(d.spec) === key)
        .map((d) => d.ms / (offMs(d.spec.workload) ?? d.ms));
      const ratio = ratios.length ? median(ratios) : 1;
      const base = offMs(spec.workload) ?? meanOff ?? median(done.map((d) => d.ms));
      total += base * ratio;
    }
    return total;
  }
}
