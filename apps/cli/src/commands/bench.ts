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
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { listWorkloads } from '@uckpt/guest';
import { defaultCopyThreads } from '@uckpt/native-kvm';
import { benchConfig, benchPlan, fullSweep, quickSweep, type BenchOptions } from '@uckpt/lab/bench/plan';
import { BenchProgress, formatDuration } from '@uckpt/lab/bench/progress';
import { benchHost, benchReport, formatReport, reportPath, writePartialReport, writeReport } from '@uckpt/lab/bench/report';
import { runBenchPlan } from '@uckpt/lab/bench/run-loop';
import { BENCH_MODES, BENCH_PREDICTORS, type BenchMode, type BenchPredictor, type BenchRun } from '@uckpt/lab/bench/summary';
import { integerOption } from '../options.js';
import { UsageError } from '../usage-error.js';

export async function benchCommand(args: string[]): Promise<number> {
  const all = listWorkloads();
  const { options, outDir, json } = parseBenchArgs(args, all);
  const plan = benchPlan(options, all.some((w) => w.name === 'dirtier'));
  const config = benchConfig(options, plan);
  const started = new Date();
  const host = benchHost(started);
  const file = reportPath(outDir, started);
  const { workloads, intervals, modes, prediction, repeat, rollbacks, predictors, ring, sweep, maxSlowdown, sizeScale } = options;
  process.stderr.write(
    `uckpt bench: ${plan.length} runs (${workloads.join(', ')}; intervals ${intervals.join(', ')} ms; ` +
      `modes ${modes.join(', ')}${prediction ? `, each also with the ${prediction} predictor` : ''}; ` +
      `repeat ${repeat}; ${rollbacks} rollbacks; other predictors ${predictors.filter((p) => p !== prediction).join(', ') || 'none'}; ` +
      `${ring ? '' : 'no '}dirty ring; ${sweep ? '' : 'no '}dirtier sweep; slowdown cap ${maxSlowdown}x` +
      `${sizeScale === 1 ? '' : `; sizes x${sizeScale}`})\n`,
  );

  const runs: BenchRun[] = [];
  const progress = new BenchProgress(plan);
  try {
    await runBenchPlan(plan, options, progress, runs);
  } catch (error) {
    progress.abort();
    host.loadAverageAtEnd = os.loadavg();
    try {
      writePartialReport(file, host, config, runs, error as Error);
      process.stderr.write(`uckpt bench: partial results in ${shown(file)}\n`);
    } catch {
      // The original error matters more.
    }
    throw error;
  }
  host.loadAverageAtEnd = os.loadavg();

  const report = benchReport(host, config, runs, prediction);
  const chartPath = writeReport(
    file,
    report,
    `uckpt overhead vs interval (${workloads.length} workloads${sizeScale === 1 ? '' : `, sizes x${sizeScale}`}, ${host.date.slice(0, 10)})`,
  );
  process.stderr.write(`uckpt bench: done in ${formatDuration(performance.now() - progress.t0)}\n`);
  if (json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.stderr.write(`results: ${shown(file)} (and latest.json)\n`);
    return 0;
  }
  process.stdout.write(`${formatReport(report, options)}\nresults: ${shown(file)} (and latest.json), chart: ${path.basename(chartPath)} (and latest.svg)\n`);
  return 0;
}

/** A path relative to the working directory when it lies under it. */
function shown(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') ? file : relative;
}

function parseBenchArgs(args: string[], all: { name: string; defaultSize: number }[]): { options: BenchOptions; outDir: string; json: boolean } {
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
  const sweep = values['no-sweep'] ? null : quick ? quickSweep : fullSweep;
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

  const sizes: Record<string, number> = {};
  for (const name of workloads) {
    const { defaultSize } = all.find((w) => w.name === name)!;
    sizes[name] = sizeScale === 1 ? defaultSize : Math.max(1, Math.round(defaultSize * sizeScale));
  }

  return {
    options: { workloads, sizes, intervals, repeat, rollbacks, sizeScale, modes, prediction, predictors, maxSlowdown, sweep, ring, precopy, quick, copyThreads },
    outDir,
    json: Boolean(values.json),
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
