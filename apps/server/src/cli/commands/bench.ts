// `uckpt bench`: the checkpointing overhead benchmark. Each workload runs
// unprotected and with stop-and-copy at several intervals, alternating, in
// the same process, so that overheads are ratios measured under the same
// (shared, noisy) conditions; then once with two copy threads, once with
// rollbacks, once per dirty-page predictor and once with KVM dirty rings
// instead of the dirty bitmap. Every run must produce the unprotected run's
// checksum.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { listWorkloads, runInVm, type Vm } from '@uckpt/native-kvm';
import {
  BENCH_PREDICTORS,
  compareDirtyTracking,
  describeSpec,
  geomeans,
  median,
  specKey,
  specOfRun,
  summarise,
  type BenchPredictor,
  type BenchRun,
  type BenchSpec,
} from '../../bench/summary.js';
import { formatDirtyTracking, formatGeomeans, formatTable, TABLE_LEGEND } from '../../bench/table.js';
import { integerOption } from '../options.js';
import { UsageError } from '../usage-error.js';

const SEED = 1;
const RETENTION = 8;
const MEMORY_MIB = 1024;
/** The interval of the extra runs: two copy threads, rollbacks, predictors, dirty ring. */
const EXTRA_INTERVAL_MS = 50;
const EXTRA_COPY_THREADS = 2;

export async function benchCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      workloads: { type: 'string' },
      intervals: { type: 'string' },
      repeat: { type: 'string' },
      rollbacks: { type: 'string' },
      'size-scale': { type: 'string' },
      predictors: { type: 'string' },
      'no-ring': { type: 'boolean' },
      out: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const all = listWorkloads();
  const workloads = listOption('workloads', values.workloads, all.map((w) => w.name), (name) => {
    if (!all.some((w) => w.name === name)) {
      throw new UsageError(`--workloads: unknown workload "${name}"; the workloads are: ${all.map((w) => w.name).join(', ')}`);
    }
    return name;
  });
  const intervals = listOption('intervals', values.intervals, [10, 50, 100], (item) =>
    integerOption('intervals', item, { min: 1, max: 10000, fallback: 0 }),
  );
  const repeat = integerOption('repeat', values.repeat, { min: 1, max: 1000, fallback: 1 });
  const rollbacks = integerOption('rollbacks', values.rollbacks, { min: 0, max: 100000, fallback: 20 });
  const sizeScale = scaleOption('size-scale', values['size-scale']);
  const predictors: BenchPredictor[] =
    values.predictors === 'none'
      ? []
      : listOption('predictors', values.predictors, [...BENCH_PREDICTORS], (name) => {
          if (name === 'none') throw new UsageError('--predictors none must stand alone (it skips the predictor runs)');
          if (!(BENCH_PREDICTORS as readonly string[]).includes(name)) {
            throw new UsageError(
              `--predictors must be "none" or a comma-separated list of ${BENCH_PREDICTORS.join(', ')} (got "${name}")`,
            );
          }
          return name as BenchPredictor;
        });
  const ring = !values['no-ring'];
  if (values.out === '') throw new UsageError('--out must name a directory');
  const outDir = path.resolve(process.cwd(), values.out ?? path.join('bench', 'results'));

  const sizes: Record<string, number> = {};
  for (const name of workloads) {
    const { defaultSize } = all.find((w) => w.name === name)!;
    sizes[name] = sizeScale === 1 ? defaultSize : Math.max(1, Math.round(defaultSize * sizeScale));
  }

  // Per workload, per repetition: off, then each interval, then the extras.
  const plan: BenchSpec[] = [];
  for (const workload of workloads) {
    for (let repetition = 0; repetition < repeat; repetition++) {
      plan.push({ workload, repetition, kind: 'off' });
      for (const intervalMs of intervals) plan.push({ workload, repetition, kind: 'interval', intervalMs, copyThreads: 1 });
      plan.push({ workload, repetition, kind: 'copy-threads', intervalMs: EXTRA_INTERVAL_MS, copyThreads: EXTRA_COPY_THREADS });
      if (rollbacks > 0) {
        plan.push({ workload, repetition, kind: 'rollback', intervalMs: EXTRA_INTERVAL_MS, copyThreads: 1, rollbacks });
      }
      for (const predictor of predictors) {
        plan.push({ workload, repetition, kind: 'predictor', intervalMs: EXTRA_INTERVAL_MS, copyThreads: 1, predictor });
      }
      if (ring) plan.push({ workload, repetition, kind: 'ring', intervalMs: EXTRA_INTERVAL_MS, copyThreads: 1 });
    }
  }

  const started = new Date();
  const config = {
    workloads,
    intervalsMs: intervals,
    repeat,
    rollbacks,
    sizeScale,
    sizes,
    seed: SEED,
    memoryMiB: MEMORY_MIB,
    vcpus: 1,
    mode: 'stop-and-copy',
    retention: RETENTION,
    copyThreads: 1,
    dirtyTracking: 'bitmap',
    predictor: 'off',
    extraCopyThreadsRun: { intervalMs: EXTRA_INTERVAL_MS, copyThreads: EXTRA_COPY_THREADS },
    rollbackRun: rollbacks > 0 ? { intervalMs: EXTRA_INTERVAL_MS, copyThreads: 1, rollbacks } : null,
    predictorRuns: { intervalMs: EXTRA_INTERVAL_MS, copyThreads: 1, predictors },
    ringRun: ring ? { intervalMs: EXTRA_INTERVAL_MS, copyThreads: 1, dirtyTracking: 'ring' } : null,
    order:
      'per workload, per repetition: off, each interval, the copy-threads run, the rollback run, ' +
      'each predictor run, the ring run',
    overhead: 'median over repetitions of runtimeMs / runtimeMs(off, same repetition) - 1, in %',
    plannedRuns: plan.length,
  };
  const host = {
    node: process.version,
    cpus: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    kernel: `${os.type()} ${os.release()}`,
    date: started.toISOString(),
    loadAverageAtStart: os.loadavg(),
    loadAverageAtEnd: null as number[] | null,
  };
  const stamp = started.toISOString().replace(/:/g, '');
  const reportPath = path.join(outDir, `bench-${stamp}.json`);
  const runs: BenchRun[] = [];
  const progress = new Progress(plan);

  process.stderr.write(
    `uckpt bench: ${plan.length} runs (${workloads.join(', ')}; intervals ${intervals.join(', ')} ms; ` +
      `repeat ${repeat}; ${rollbacks} rollbacks; predictors ${predictors.join(', ') || 'none'}; ` +
      `${ring ? '' : 'no '}dirty ring${sizeScale === 1 ? '' : `; sizes x${sizeScale}`})\n`,
  );
  try {
    const expected = new Map<string, { checksum: string; by: string }>();
    for (const [i, spec] of plan.entries()) {
      progress.start(i);
      const t0 = performance.now();
      const result = await runInVm({
        workload: spec.workload,
        seed: SEED,
        size: sizes[spec.workload]!,
        memoryMiB: MEMORY_MIB,
        dirtyTracking: spec.kind === 'ring' ? 'ring' : 'bitmap',
        ...(spec.kind !== 'off' && {
          checkpointing: {
            mode: 'stop-and-copy' as const,
            intervalMs: spec.intervalMs!,
            retention: RETENTION,
            copyThreads: spec.copyThreads!,
            predictor: spec.predictor ?? 'off',
          },
        }),
        rollbacks: spec.rollbacks ?? 0,
        onStart: (vm) => progress.watch(vm),
      }).finally(() => progress.unwatch());
      const wallMs = performance.now() - t0;
      runs.push({
        ...result,
        repetition: spec.repetition,
        kind: spec.kind,
        copyThreads: spec.copyThreads ?? null,
        rollbacksRequested: spec.rollbacks ?? null,
        wallMs,
      });
      progress.finish(i, wallMs);

      const label = `${spec.workload} ${describeSpec(spec)}${repeat > 1 ? ` (repetition ${spec.repetition + 1})` : ''}`;
      // A run that silently ran as something else would be measured under the wrong name.
      if (spec.kind !== 'off' && (result.predictor ?? 'off') !== (spec.predictor ?? 'off')) {
        throw new Error(`${label}: the VM reports predictor "${result.predictor ?? 'none'}", not "${spec.predictor ?? 'off'}"`);
      }
      if (spec.kind !== 'off' && (result.dirtyTracking === 'ring') !== (spec.kind === 'ring')) {
        throw new Error(`${label}: the VM reports dirty tracking "${result.dirtyTracking ?? 'none'}"`);
      }
      const reference = expected.get(spec.workload);
      if (!reference) {
        expected.set(spec.workload, { checksum: result.checksum, by: label });
      } else if (result.checksum !== reference.checksum) {
        throw new Error(
          `CHECKSUM MISMATCH: ${label} gave ${result.checksum}, but ${reference.by} gave ${reference.checksum}. ` +
            'Same workload, seed and size must give the same result with or without checkpointing: this is a correctness bug.',
        );
      }
    }
  } catch (error) {
    progress.abort();
    // Keep what was measured, for the post-mortem; latest.json stays the last complete run.
    host.loadAverageAtEnd = os.loadavg();
    const partial = { host, config, error: (error as Error).message, runs, summary: summarise(runs) };
    try {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(reportPath, `${JSON.stringify(partial, null, 2)}\n`);
      process.stderr.write(`uckpt bench: partial results in ${path.relative(process.cwd(), reportPath) || reportPath}\n`);
    } catch {
      // The original error matters more.
    }
    throw error;
  }
  host.loadAverageAtEnd = os.loadavg();

  const summary = summarise(runs);
  const geomean = geomeans(summary);
  const dirtyTracking = compareDirtyTracking(summary);
  const report = { host, config, runs, summary, geomean, dirtyTracking };
  const text = `${JSON.stringify(report, null, 2)}\n`;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(reportPath, text);
  writeFileSync(path.join(outDir, 'latest.json'), text);
  const shownPath = path.relative(process.cwd(), reportPath).startsWith('..') ? reportPath : path.relative(process.cwd(), reportPath);

  process.stderr.write(`uckpt bench: done in ${formatDuration(performance.now() - progress.t0)}\n`);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.stderr.write(`results: ${shownPath} (and latest.json)\n`);
    return 0;
  }
  const load = (l: number[] | null) => (l ? l.map((x) => x.toFixed(2)).join(' ') : '?');
  let out =
    `host: ${host.cpus}, ${host.cores} cores, ${host.kernel}, node ${host.node}; ` +
    `load average ${load(host.loadAverageAtStart)} at start, ${load(host.loadAverageAtEnd)} at end\n` +
    `seed ${SEED}, retention ${RETENTION}, ${MEMORY_MIB} MiB guest, ${repeat} repetition${repeat === 1 ? '' : 's'}` +
    `${repeat > 1 ? ' (medians; overhead = median of per-repetition ratios)' : ''}; ` +
    `overhead = runtime / runtime off - 1\n\n`;
  out += formatTable(summary);
  out += `\n${TABLE_LEGEND}\n${formatGeomeans(geomean)}${formatDirtyTracking(dirtyTracking)}`;
  const notes = notesFor(runs);
  if (notes.length) out += `\n${notes.map((n) => `note: ${n}`).join('\n')}\n`;
  out += `\nresults: ${shownPath} (and latest.json)\n`;
  process.stdout.write(out);
  return 0;
}

/** A comma-separated list; absent gives the fallback, empty items are an error, duplicates are dropped. */
function listOption<T>(flag: string, raw: string | undefined, fallback: T[], parse: (item: string) => T): T[] {
  if (raw === undefined) return fallback;
  const items = raw.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) {
    throw new UsageError(`--${flag} must be a comma-separated list without empty items (got "${raw}")`);
  }
  return [...new Set(items.map(parse))];
}

function scaleOption(flag: string, raw: string | undefined): number {
  if (raw === undefined) return 1;
  const value = /^(\d+(\.\d*)?|\.\d+)$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value > 0 && value <= 2)) {
    throw new UsageError(`--${flag} must be a number greater than 0 and at most 2 (got "${raw}")`);
  }
  return value;
}

function notesFor(runs: BenchRun[]): string[] {
  const notes: string[] = [];
  const coalesced = runs.filter((r) => r.coalescedEpochs > 0);
  if (coalesced.length) {
    notes.push(
      `epoch records coalesced (JavaScript too slow to receive them; not in epochs/pauses): ` +
        coalesced.map((r) => `${r.workload} ${describeSpec(specOfRun(r))}: ${r.coalescedEpochs}`).join(', '),
    );
  }
  const getAndClear = runs.filter((r) => r.kind !== 'off' && r.dirtyTracking === 'get-and-clear');
  if (getAndClear.length) {
    notes.push(
      `the dirty bitmap was read with get-and-clear, not manual-protect (the kernel lacks it), in ` +
        `${getAndClear.length} run${getAndClear.length === 1 ? '' : 's'}`,
    );
  }
  for (const r of runs) {
    if (r.kind === 'rollback' && r.rollbacksRequested !== null && r.rollbacks < r.rollbacksRequested) {
      notes.push(`${r.workload}: only ${r.rollbacks} of ${r.rollbacksRequested} rollbacks happened before the run ended`);
    }
  }
  return notes;
}

function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 90) return `${s.toFixed(1)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/**
 * Progress on stderr: a line per run, "[i/n] label ... time (estimate)".
 * On a terminal the line also shows the guest's progress while it runs.
 */
class Progress {
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
