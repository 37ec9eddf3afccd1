// `uckpt bench`: the checkpointing overhead benchmark. Each workload runs
// unprotected, then at each interval with stop-and-copy and copy-on-write,
// each without and with dirty-page prediction, alternating, in the same
// process, so that overheads are ratios measured under the same (shared,
// noisy) conditions; then (unless --quick) once with the other copy-thread
// count (1 or 2), with rollbacks, with each other predictor and with KVM
// dirty rings instead of the dirty bitmap. A dirtier sweep (working set x
// write rate) at 50 ms shows where each mode wins, and two long dirtier runs
// give the default mode's pauses at ~1,000 and ~5,000 dirty pages, copying
// ahead (the default) and not, which the full run also compares per
// workload. Every run must produce the unprotected run's checksum; a run
// slower than --max-slowdown times the unprotected one is stopped and
// reported as a lower bound.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { listWorkloads } from '@uckpt/guest';
import { defaultCopyThreads, GuestRunError, runInVm, type CheckpointedRunResult, type Vm } from '@uckpt/native-kvm';
import { overheadChart } from '@uckpt/lab/bench/chart';
import {
  BENCH_MODES,
  BENCH_PREDICTORS,
  compareDirtyTracking,
  describeSpec,
  floorSummary,
  geomeans,
  median,
  modeLabel,
  modeSummaries,
  overheadByInterval,
  specKey,
  specOfRun,
  summarise,
  sweepCells,
  type BenchMode,
  type BenchPredictor,
  type BenchRun,
  type BenchSpec,
} from '@uckpt/lab/bench/summary';
import {
  formatDirtyTracking,
  formatGeomeans,
  formatModeSummaries,
  formatSweep,
  formatTable,
  TABLE_LEGEND,
} from '@uckpt/lab/bench/table';
import { integerOption } from '../options.js';
import { UsageError } from '../usage-error.js';

const SEED = 1;
const RETENTION = 8;
const MEMORY_MIB = 1024;
/** The interval of the extra runs: the other copy-thread count, rollbacks, predictors, dirty ring. */
const EXTRA_INTERVAL_MS = 50;
/** The interval of the summary line and of the dirtier sweep. */
const SUMMARY_INTERVAL_MS = 50;
/** The dirtier sweep: working sets (MiB) x pages dirtied per ~1 ms unit. */
const SWEEP_FULL = { workingSetsMiB: [16, 64, 256], pagesPerUnit: [4, 32, 256] };
const SWEEP_QUICK = { workingSetsMiB: [16, 64], pagesPerUnit: [4, 64] };
/**
 * With the sweep, for the pause targets: scattered writes over most of the
 * 1 GiB guest, about 1,000 and 5,000 dirty pages per epoch here, in the
 * default mode only (10-20 s each): long enough that p99 is not the first
 * pauses.
 */
const PAUSE_CELLS = [
  { workingSetMiB: 768, pagesPerUnit: 28 },
  { workingSetMiB: 768, pagesPerUnit: 250 },
];

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
      'copy-threads': { type: 'string' },
      predictors: { type: 'string' },
      modes: { type: 'string' },
      prediction: { type: 'string' },
      'max-slowdown': { type: 'string' },
      quick: { type: 'boolean' },
      'no-sweep': { type: 'boolean' },
      'no-ring': { type: 'boolean' },
      'no-precopy': { type: 'boolean' },
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
  const quick = Boolean(values.quick);
  const intervals = listOption('intervals', values.intervals, [10, 25, 50, 100], (item) =>
    integerOption('intervals', item, { min: 1, max: 10000, fallback: 0 }),
  );
  const repeat = integerOption('repeat', values.repeat, { min: 1, max: 1000, fallback: 1 });
  const rollbacks = integerOption('rollbacks', values.rollbacks, { min: 0, max: 100000, fallback: quick ? 0 : 20 });
  const sizeScale = values['size-scale'] === undefined && quick ? 0.25 : scaleOption('size-scale', values['size-scale']);
  const modes = listOption('modes', values.modes, [...BENCH_MODES], (name) => {
    if (!(BENCH_MODES as readonly string[]).includes(name)) {
      throw new UsageError(`--modes must be a comma-separated list of ${BENCH_MODES.join(', ')} (got "${name}")`);
    }
    return name as BenchMode;
  });
  const predictionRaw = values.prediction ?? 'cost';
  if (predictionRaw !== 'none' && !(BENCH_PREDICTORS as readonly string[]).includes(predictionRaw)) {
    throw new UsageError(`--prediction must be "none" or one of ${BENCH_PREDICTORS.join(', ')} (got "${predictionRaw}")`);
  }
  const prediction = predictionRaw === 'none' ? null : (predictionRaw as BenchPredictor);
  const maxSlowdown = integerOption('max-slowdown', values['max-slowdown'], { min: 2, max: 1000, fallback: quick ? 4 : 12 });
  const sweep = values['no-sweep'] ? null : quick ? SWEEP_QUICK : SWEEP_FULL;
  const predictors: BenchPredictor[] =
    values.predictors === 'none' || (quick && values.predictors === undefined)
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
  const ring = !values['no-ring'] && !quick;
  // Stop-and-copy copies ahead while the guest runs unless told not to; an
  // extra run per workload (and per pause cell) shows what that is worth.
  const precopy = !values['no-precopy'];
  if (values.out === '') throw new UsageError('--out must name a directory');
  const outDir = path.resolve(process.cwd(), values.out ?? path.join('bench', 'results'));

  // Every run copies with --copy-threads threads; one extra run per
  // workload with the other count (1 or 2) shows what it is worth.
  const copyThreads = integerOption('copy-threads', values['copy-threads'], { min: 1, max: 16, fallback: defaultCopyThreads() });
  const otherCopyThreads = copyThreads === 1 ? 2 : 1;

  const sizes: Record<string, number> = {};
  for (const name of workloads) {
    const { defaultSize } = all.find((w) => w.name === name)!;
    sizes[name] = sizeScale === 1 ? defaultSize : Math.max(1, Math.round(defaultSize * sizeScale));
  }

  // Per workload, per repetition: off, then each interval in every mode
  // (without, then with prediction), then the extras; then the sweep.
  const plan: BenchSpec[] = [];
  for (const workload of workloads) {
    for (let repetition = 0; repetition < repeat; repetition++) {
      plan.push({ workload, repetition, kind: 'off' });
      for (const intervalMs of intervals) {
        for (const mode of modes) {
          plan.push({ workload, repetition, kind: 'interval', mode, intervalMs, copyThreads });
          if (prediction) plan.push({ workload, repetition, kind: 'interval', mode, intervalMs, copyThreads, predictor: prediction });
        }
      }
      if (!quick) {
        plan.push({ workload, repetition, kind: 'copy-threads', mode: 'stop-and-copy', intervalMs: EXTRA_INTERVAL_MS, copyThreads: otherCopyThreads });
        if (precopy && modes.includes('stop-and-copy')) {
          plan.push(noPrecopySpec({ workload, repetition, copyThreads, prediction }));
        }
      }
      if (rollbacks > 0) {
        for (const mode of modes) {
          plan.push({ workload, repetition, kind: 'rollback', mode, intervalMs: EXTRA_INTERVAL_MS, copyThreads, rollbacks });
        }
      }
      for (const predictor of predictors) {
        if (predictor === prediction && intervals.includes(EXTRA_INTERVAL_MS)) continue; // in the interval rows already
        for (const mode of modes) {
          plan.push({ workload, repetition, kind: 'predictor', mode, intervalMs: EXTRA_INTERVAL_MS, copyThreads, predictor });
        }
      }
      if (ring) plan.push({ workload, repetition, kind: 'ring', mode: 'stop-and-copy', intervalMs: EXTRA_INTERVAL_MS, copyThreads });
    }
  }
  if (sweep && all.some((w) => w.name === 'dirtier')) {
    for (const workingSetMiB of sweep.workingSetsMiB) {
      for (const pagesPerUnit of sweep.pagesPerUnit) {
        const cell = { workingSetMiB, pagesPerUnit };
        plan.push({ workload: 'dirtier', repetition: 0, kind: 'off', sweep: cell });
        for (const mode of modes) {
          plan.push({ workload: 'dirtier', repetition: 0, kind: 'interval', mode, intervalMs: SUMMARY_INTERVAL_MS, copyThreads, sweep: cell });
          if (prediction) {
            plan.push({
              workload: 'dirtier',
              repetition: 0,
              kind: 'interval',
              mode,
              intervalMs: SUMMARY_INTERVAL_MS,
              copyThreads,
              predictor: prediction,
              sweep: cell,
            });
          }
        }
      }
    }
    for (const cell of modes.includes('stop-and-copy') ? PAUSE_CELLS : []) {
      plan.push({ workload: 'dirtier', repetition: 0, kind: 'off', sweep: cell });
      plan.push({
        workload: 'dirtier',
        repetition: 0,
        kind: 'interval',
        mode: 'stop-and-copy',
        intervalMs: SUMMARY_INTERVAL_MS,
        copyThreads,
        ...(prediction && { predictor: prediction }),
        sweep: cell,
      });
      if (precopy) plan.push(noPrecopySpec({ workload: 'dirtier', repetition: 0, copyThreads, prediction, sweep: cell }));
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
    modes,
    prediction,
    quick,
    maxSlowdown,
    sweep: sweep && { ...sweep, pauseCells: PAUSE_CELLS, intervalMs: SUMMARY_INTERVAL_MS, sizeIsWorkingSet: true },
    retention: RETENTION,
    copyThreads,
    dirtyTracking: 'bitmap',
    extraCopyThreadsRun: { intervalMs: EXTRA_INTERVAL_MS, copyThreads: otherCopyThreads },
    rollbackRun: rollbacks > 0 ? { intervalMs: EXTRA_INTERVAL_MS, copyThreads, rollbacks } : null,
    predictorRuns: { intervalMs: EXTRA_INTERVAL_MS, copyThreads, predictors, modes },
    ringRun: ring ? { intervalMs: EXTRA_INTERVAL_MS, copyThreads, dirtyTracking: 'ring' } : null,
    precopy,
    noPrecopyRuns: precopy ? { intervalMs: EXTRA_INTERVAL_MS, mode: 'stop-and-copy', predictor: prediction, perWorkload: !quick, pauseCells: true } : null,
    order:
      'per workload, per repetition: off, each interval in each mode without then with prediction, the copy-threads run, the no-precopy run, ' +
      'the rollback runs, each other predictor run, the ring run; then the dirtier sweep cells (off, then each mode), ' +
      'then the pause cells (off, then stop-and-copy with prediction, then the same not copying ahead)',
    overhead: 'median over repetitions of runtimeMs / runtimeMs(off, same repetition) - 1, in %',
    floor:
      '(most dirty pages per epoch of any stop-and-copy run x their median copy ns + their least fixed pause) / interval',
    cap: `a checkpointed run still going at ${maxSlowdown} x the unprotected runtime is stopped: its overhead is a lower bound`,
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
      `modes ${modes.join(', ')}${prediction ? `, each also with the ${prediction} predictor` : ''}; ` +
      `repeat ${repeat}; ${rollbacks} rollbacks; other predictors ${predictors.filter((p) => p !== prediction).join(', ') || 'none'}; ` +
      `${ring ? '' : 'no '}dirty ring; ${sweep ? '' : 'no '}dirtier sweep; slowdown cap ${maxSlowdown}x` +
      `${sizeScale === 1 ? '' : `; sizes x${sizeScale}`})\n`,
  );
  try {
    const expected = new Map<string, { checksum: string; by: string }>();
    const offMs = new Map<string, number>();
    const cellKey = (spec: BenchSpec) =>
      `${spec.workload}|${spec.repetition}|${spec.sweep ? `${spec.sweep.workingSetMiB}x${spec.sweep.pagesPerUnit}` : ''}`;
    for (const [i, spec] of plan.entries()) {
      progress.start(i);
      const t0 = performance.now();
      const capMs = spec.kind === 'off' || spec.kind === 'rollback' ? undefined : (offMs.get(cellKey(spec)) ?? 0) * maxSlowdown;
      let capped = false;
      let capTimer: NodeJS.Timeout | undefined;
      let result: CheckpointedRunResult;
      try {
        result = await runInVm({
          workload: spec.workload,
          seed: SEED,
          size: spec.sweep ? spec.sweep.workingSetMiB : sizes[spec.workload]!,
          ...(spec.sweep && { param: spec.sweep.pagesPerUnit }),
          memoryMiB: MEMORY_MIB,
          dirtyTracking: spec.kind === 'ring' ? 'ring' : 'bitmap',
          ...(spec.kind !== 'off' && {
            checkpointing: {
              mode: spec.mode ?? 'stop-and-copy',
              intervalMs: spec.intervalMs!,
              retention: RETENTION,
              copyThreads: spec.copyThreads!,
              predictor: spec.predictor ?? 'off',
              precopy: precopy && spec.kind !== 'no-precopy',
            },
          }),
          rollbacks: spec.rollbacks ?? 0,
          onStart: (vm) => {
            progress.watch(vm);
            if (capMs) {
              capTimer = setTimeout(() => {
                capped = true;
                vm.stop();
              }, capMs);
            }
          },
        }).finally(() => {
          clearTimeout(capTimer);
          progress.unwatch();
        });
      } catch (error) {
        if (!capped || !(error instanceof GuestRunError)) throw error;
        result = cappedResult(spec, performance.now() - t0);
      }
      const wallMs = performance.now() - t0;
      if (spec.kind === 'off') offMs.set(cellKey(spec), result.runtimeMs);
      runs.push({
        ...result,
        repetition: spec.repetition,
        kind: spec.kind,
        copyThreads: spec.copyThreads ?? null,
        rollbacksRequested: spec.rollbacks ?? null,
        wallMs,
        requestedMode: spec.kind === 'off' ? null : (spec.mode ?? 'stop-and-copy'),
        sweep: spec.sweep ?? null,
        capped,
        fixedPauseUs: result.fixedPauseUs,
      });
      progress.finish(i, wallMs);
      if (capped) continue;

      const label = `${spec.workload} ${describeSpec(spec)}${repeat > 1 ? ` (repetition ${spec.repetition + 1})` : ''}`;
      // A run that silently ran as something else would be measured under the wrong name.
      if (spec.kind !== 'off' && (result.predictor ?? 'off') !== (spec.predictor ?? 'off')) {
        throw new Error(`${label}: the VM reports predictor "${result.predictor ?? 'none'}", not "${spec.predictor ?? 'off'}"`);
      }
      if (spec.kind !== 'off' && (result.dirtyTracking === 'ring') !== (spec.kind === 'ring')) {
        throw new Error(`${label}: the VM reports dirty tracking "${result.dirtyTracking ?? 'none'}"`);
      }
      const referenceKey = cellKey({ ...spec, repetition: 0 });
      const reference = expected.get(referenceKey);
      if (!reference) {
        expected.set(referenceKey, { checksum: result.checksum, by: label });
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
  const modeSummary = modeSummaries(summary, SUMMARY_INTERVAL_MS);
  const floor = floorSummary(summary, SUMMARY_INTERVAL_MS);
  const chartLines = overheadByInterval(summary);
  const defaultMode = modeLabel('stop-and-copy', prediction);
  const sweepResult = sweepCells(summary, defaultMode);
  const report = { host, config, runs, summary, geomean, modeSummary, floor, overheadByInterval: chartLines, sweep: sweepResult, dirtyTracking };
  const text = `${JSON.stringify(report, null, 2)}\n`;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(reportPath, text);
  writeFileSync(path.join(outDir, 'latest.json'), text);
  const chart = overheadChart(
    chartLines,
    `uckpt overhead vs interval (${workloads.length} workloads${sizeScale === 1 ? '' : `, sizes x${sizeScale}`}, ${host.date.slice(0, 10)})`,
  );
  const chartPath = reportPath.replace(/\.json$/, '.svg');
  writeFileSync(chartPath, chart);
  writeFileSync(path.join(outDir, 'latest.svg'), chart);
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
  out += formatTable(summary.filter((r) => !r.sweep));
  out += `\n${TABLE_LEGEND}\n${formatGeomeans(geomean)}${formatDirtyTracking(dirtyTracking)}`;
  out += `\n${formatSweep(sweepResult, defaultMode)}`;
  out += `\n${formatModeSummaries(modeSummary, floor)}`;
  const notes = notesFor(runs);
  if (notes.length) out += `\n${notes.map((n) => `note: ${n}`).join('\n')}\n`;
  out += `\nresults: ${shownPath} (and latest.json), chart: ${path.basename(chartPath)} (and latest.svg)\n`;
  process.stdout.write(out);
  return 0;
}

/** The extra run of stop-and-copy (with the benchmark's predictor) that does not copy ahead. */
function noPrecopySpec(run: {
  workload: string;
  repetition: number;
  copyThreads: number;
  prediction: BenchPredictor | null;
  sweep?: BenchSpec['sweep'];
}): BenchSpec {
  return {
    workload: run.workload,
    repetition: run.repetition,
    kind: 'no-precopy',
    mode: 'stop-and-copy',
    intervalMs: run.sweep ? SUMMARY_INTERVAL_MS : EXTRA_INTERVAL_MS,
    copyThreads: run.copyThreads,
    ...(run.prediction && { predictor: run.prediction }),
    ...(run.sweep && { sweep: run.sweep }),
  };
}

/** What a run stopped at the slowdown cap is recorded as: its runtime so far, no statistics. */
function cappedResult(spec: BenchSpec, runtimeMs: number): CheckpointedRunResult {
  return {
    workload: spec.workload,
    on: 'kvm',
    seed: SEED,
    checksum: '',
    runtimeMs,
    progressUnits: 0,
    progressRate: 0,
    mode: spec.mode ?? 'stop-and-copy',
    intervalMs: spec.intervalMs!,
    retention: RETENTION,
    predictor: spec.predictor ?? 'off',
    epochs: 0,
    lateMs: 0,
    pauseUs: { p50: 0, p99: 0 },
    dirtyPagesPerEpoch: 0,
    dirtyPagesP99: 0,
    usualPauseUs: { p50: 0, p99: 0 },
    rollbacks: 0,
    rollbackUs: { p50: 0, p99: 0 },
    pagesRestoredPerRollback: 0,
    storeBytesMax: 0,
    faultsPerEpoch: 0,
    faultUsPerEpoch: 0,
    leastTrackingUsPerEpoch: null,
    pagesCopiedPerEpoch: 0,
    pagesPrecopiedPerEpoch: 0,
    fixedPauseUs: null,
    precision: null,
    recall: null,
    coalescedEpochs: 0,
    warnings: [],
    lastError: null,
  };
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
  for (const r of runs.filter((x) => x.lastError)) {
    notes.push(`${r.workload} ${describeSpec(specOfRun(r))}: checkpointing stopped during the run (${r.lastError})`);
  }
  const fellBack = runs.filter((r) => r.requestedMode === 'cow' && r.mode !== 'cow' && !r.capped);
  if (fellBack.length) notes.push(`copy-on-write fell back to stop-and-copy: ${fellBack[0]!.fallbackReason ?? 'no reason given'}`);
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
