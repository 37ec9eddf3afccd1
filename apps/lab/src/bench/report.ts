// The benchmark's report: the host it ran on, the summaries computed from
// its runs, the JSON and SVG files written for them, and the text tables.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { overheadChart } from './chart.js';
import { benchMemoryMiB, benchRetention, benchSeed, summaryIntervalMs, type BenchOptions } from './plan.js';
import {
  compareDirtyTracking,
  describeSpec,
  floorSummary,
  geomeans,
  modeLabel,
  modeSummaries,
  overheadByInterval,
  specOfRun,
  summarise,
  sweepCells,
  type BenchPredictor,
  type BenchRun,
} from './summary.js';
import { formatDirtyTracking, formatGeomeans, formatModeSummaries, formatSweep, formatTable, TABLE_LEGEND } from './table.js';

export interface BenchHost {
  node: string;
  cpus: string;
  cores: number;
  kernel: string;
  date: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[] | null;
}

export function benchHost(started: Date): BenchHost {
  return {
    node: process.version,
    cpus: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    kernel: `${os.type()} ${os.release()}`,
    date: started.toISOString(),
    loadAverageAtStart: os.loadavg(),
    loadAverageAtEnd: null,
  };
}

/** Everything the JSON report holds, the summaries computed from the runs. */
export function benchReport(host: BenchHost, config: object, runs: BenchRun[], prediction: BenchPredictor | null) {
  const summary = summarise(runs);
  const defaultMode = modeLabel('stop-and-copy', prediction);
  return {
    host,
    config,
    runs,
    summary,
    geomean: geomeans(summary),
    modeSummary: modeSummaries(summary, summaryIntervalMs),
    floor: floorSummary(summary, summaryIntervalMs),
    overheadByInterval: overheadByInterval(summary),
    sweep: sweepCells(summary, defaultMode),
    dirtyTracking: compareDirtyTracking(summary),
  };
}

export type BenchReport = ReturnType<typeof benchReport>;

/** Where a run's results go: bench-<start time>.json and .svg in `outDir`, and latest.json/.svg beside. */
export function reportPath(outDir: string, started: Date): string {
  return path.join(outDir, `bench-${started.toISOString().replace(/:/g, '')}.json`);
}

/** What was measured before a run failed, for the post-mortem; latest.json stays the last complete run. */
export function writePartialReport(file: string, host: BenchHost, config: object, runs: BenchRun[], error: Error): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ host, config, error: error.message, runs, summary: summarise(runs) }, null, 2)}\n`);
}

/** Writes the JSON report and the overhead chart; returns the chart's path. */
export function writeReport(file: string, report: BenchReport, chartTitle: string): string {
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const outDir = path.dirname(file);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(file, text);
  writeFileSync(path.join(outDir, 'latest.json'), text);
  const chart = overheadChart(report.overheadByInterval, chartTitle);
  const chartPath = file.replace(/\.json$/, '.svg');
  writeFileSync(chartPath, chart);
  writeFileSync(path.join(outDir, 'latest.svg'), chart);
  return chartPath;
}

/** The tables and notes printed at the end of a run. */
export function formatReport(report: BenchReport, options: Pick<BenchOptions, 'repeat' | 'prediction'>): string {
  const { host, summary } = report;
  const { repeat } = options;
  const load = (l: number[] | null) => (l ? l.map((x) => x.toFixed(2)).join(' ') : '?');
  let out =
    `host: ${host.cpus}, ${host.cores} cores, ${host.kernel}, node ${host.node}; ` +
    `load average ${load(host.loadAverageAtStart)} at start, ${load(host.loadAverageAtEnd)} at end\n` +
    `seed ${benchSeed}, retention ${benchRetention}, ${benchMemoryMiB} MiB guest, ${repeat} repetition${repeat === 1 ? '' : 's'}` +
    `${repeat > 1 ? ' (medians; overhead = median of per-repetition ratios)' : ''}; ` +
    `overhead = runtime / runtime off - 1\n\n`;
  out += formatTable(summary.filter((r) => !r.sweep));
  out += `\n${TABLE_LEGEND}\n${formatGeomeans(report.geomean)}${formatDirtyTracking(report.dirtyTracking)}`;
  out += `\n${formatSweep(report.sweep, modeLabel('stop-and-copy', options.prediction))}`;
  out += `\n${formatModeSummaries(report.modeSummary, report.floor)}`;
  const notes = notesFor(report.runs);
  if (notes.length) out += `\n${notes.map((n) => `note: ${n}`).join('\n')}\n`;
  return out;
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
