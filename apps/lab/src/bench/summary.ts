// What `uckpt bench` runs, and how its raw results become the printed rows:
// overheads are ratios to the unprotected run of the same repetition, so
// that a noisy shared machine slows both sides of each ratio alike.
// Longer than most files: every summary here (rows, geomeans, modes, the
// floor, the sweep) is a reduction of the same rows under the same keys, and
// reads best next to the others; the tables that print them are in table.ts.
import type { CheckpointedRunResult } from '@uckpt/native-kvm';

/** One planned run. */
export interface BenchSpec {
  workload: string;
  /** 0-based. */
  repetition: number;
  /**
   * off: unprotected (the baseline); interval: stop-and-copy at one of the
   * chosen intervals, with --copy-threads threads; copy-threads: an
   * extra interval run with the other count (1 or 2); rollback: an extra run
   * with rollbacks (never used for overhead, since rolled-back work is
   * redone); predictor: an extra interval run with dirty-page prediction;
   * ring: an extra interval run with KVM dirty rings instead of the dirty
   * bitmap; no-precopy: an extra stop-and-copy run that does not copy ahead
   * while the guest runs (the other runs do, unless --no-precopy).
   */
  kind: 'off' | 'interval' | 'copy-threads' | 'rollback' | 'predictor' | 'ring' | 'no-precopy';
  /** Checkpointed runs: stop-and-copy (default) or copy-on-write. */
  mode?: BenchMode;
  intervalMs?: number;
  copyThreads?: number;
  rollbacks?: number;
  /** For kind predictor, and interval runs with prediction. */
  predictor?: BenchPredictor;
  /** The dirtier sweep: working set (MiB, the size) and pages per unit (the param). */
  sweep?: { workingSetMiB: number; pagesPerUnit: number };
}

export const BENCH_MODES = ['stop-and-copy', 'cow'] as const;
export type BenchMode = (typeof BENCH_MODES)[number];

/** The predictors the benchmark can run ('off' is the plain interval run). */
export const BENCH_PREDICTORS = ['history', 'frontier', 'cost'] as const;
export type BenchPredictor = (typeof BENCH_PREDICTORS)[number];

/** A raw result with what it was run as. */
export interface BenchRun extends CheckpointedRunResult {
  repetition: number;
  kind: BenchSpec['kind'];
  copyThreads: number | null;
  rollbacksRequested: number | null;
  /** Wall time of the whole run, VM set-up and tear-down included. */
  wallMs: number;
  /** The mode asked for (the run's `mode` is the one in effect). */
  requestedMode: BenchMode | null;
  sweep: { workingSetMiB: number; pagesPerUnit: number } | null;
  /** Stopped at the slowdown cap: runtimeMs is a lower bound and the statistics are missing. */
  capped: boolean;
  /** Median over epochs of the pause without copying and re-arming: stopping, harvesting, resuming (us). */
  fixedPauseUs: number | null;
}

/** One printed row; null where not applicable (printed blank). */
export interface BenchRow {
  workload: string;
  kind: BenchSpec['kind'];
  /** Short text for the table: off, s&c, s&c+NAME (predictor), s&c ring, rollback xN. */
  mode: string;
  /** As the run reported it: manual-protect or get-and-clear (the bitmap), or ring; null when off. */
  dirtyTracking: string | null;
  /** The predictor in use, null when none (or off). */
  predictor: string | null;
  /** The mode in effect: stop-and-copy or cow; null when off. */
  checkpointMode: string | null;
  sweep: { workingSetMiB: number; pagesPerUnit: number } | null;
  intervalMs: number | null;
  copyThreads: number | null;
  /** Some repetition hit the slowdown cap: the overhead is a lower bound. */
  capped: boolean;
  /** Medians over repetitions unless said otherwise. */
  runtimeS: number;
  /** Median over repetitions of (runtime / runtime off in the same repetition) - 1, in %. */
  overheadPct: number | null;
  epochs: number | null;
  /** How long due checkpoints waited past their time over the run, in ms. */
  lateMs: number | null;
  pauseP50Us: number | null;
  pauseP99Us: number | null;
  dirtyPagesPerEpoch: number | null;
  dirtyPagesP99: number | null;
  /** Pause p99 over the epochs that dirtied at most twice the median. */
  usualPauseP99Us: number | null;
  /** Write faults per epoch: dirty-log faults (stop-and-copy) or copy-on-write faults. */
  faultsPerEpoch: number | null;
  /** Time the guest lost to those faults per epoch (us; measured for cow, estimated otherwise). */
  faultUsPerEpoch: number | null;
  /** Pages copied while paused, per epoch. */
  pagesCopiedPerEpoch: number | null;
  /**
   * The floor at this interval, in %: (pages that must be copied per epoch x the
   * measured copy cost + the fixed pause cost) / interval, from the workload's
   * stop-and-copy runs at the same interval (see floorsByInterval).
   */
  floorPct: number | null;
  /**
   * The floor plus the least that tracking the writes could cost under the
   * dirty log, in faults or comparisons of hot pages, whatever the
   * prediction (leastTrackingNs), from the workload's s&c+cost runs.
   */
  trackingFloorPct: number | null;
  /** With a predictor only: share of predicted pages written, share of written pages predicted (0..1). */
  precision: number | null;
  recall: number | null;
  /** Largest over repetitions. */
  storeMaxMiB: number | null;
  rollbackP50Us: number | null;
  rollbackP99Us: number | null;
  pagesRestoredPerRollback: number | null;
  repetitions: number;
}

export interface GeomeanRow {
  label: string;
  kind: BenchSpec['kind'];
  mode: BenchMode;
  intervalMs: number;
  copyThreads: number;
  predictor: string | null;
  dirtyTracking: 'bitmap' | 'ring';
  workloads: number;
  /** Geometric mean over the workloads of (1 + overhead), minus 1, in %. */
  overheadPct: number;
}

/** Dirty-tracking comparison at one interval: ring runs against the plain (bitmap) interval runs with as many copy threads. */
export interface DirtyTrackingComparison {
  intervalMs: number;
  /** Workloads with both a ring row and a bitmap row (the geomeans are over these). */
  workloads: string[];
  /** Workloads with a ring row but no bitmap row at this interval. */
  unpaired: string[];
  /** Geometric mean over the workloads of pause p50 ring / pause p50 bitmap; null without pairs. */
  pauseP50Ratio: number | null;
  ringOverheadPct: number | null;
  bitmapOverheadPct: number | null;
}

export function specKey(spec: {
  kind: BenchSpec['kind'];
  intervalMs?: number | undefined;
  copyThreads?: number | null | undefined;
  predictor?: string | null | undefined;
  mode?: string | null | undefined;
  sweep?: { workingSetMiB: number; pagesPerUnit: number } | null | undefined;
}): string {
  const sweep = spec.sweep ? `:W${spec.sweep.workingSetMiB}P${spec.sweep.pagesPerUnit}` : '';
  const base = `${spec.kind}:${spec.intervalMs ?? ''}:${spec.copyThreads ?? ''}${sweep}`;
  if (spec.kind === 'off') return base;
  return `${base}:${spec.mode ?? 'stop-and-copy'}:${spec.predictor ?? 'off'}`;
}

export function describeSpec(spec: BenchSpec): string {
  const sweep = spec.sweep ? ` [W ${spec.sweep.workingSetMiB} MiB, P ${spec.sweep.pagesPerUnit}]` : '';
  if (spec.kind === 'off') return `off${sweep}`;
  let text = `${spec.mode ?? 'stop-and-copy'} ${spec.intervalMs} ms${sweep}`;
  if (spec.kind === 'interval' && spec.predictor) text += `, ${spec.predictor} predictor`;
  if (spec.kind === 'copy-threads') text += `, ${spec.copyThreads} copy thread${spec.copyThreads === 1 ? '' : 's'}`;
  if (spec.kind === 'rollback') text += `, ${spec.rollbacks} rollbacks`;
  if (spec.kind === 'predictor') text += `, ${spec.predictor} predictor`;
  if (spec.kind === 'ring') text += ', dirty ring';
  if (spec.kind === 'no-precopy') text += `${spec.predictor ? `, ${spec.predictor} predictor` : ''}, not copying ahead`;
  return text;
}

/** The spec a run was made from, e.g. to describe it. */
export function specOfRun(run: BenchRun): BenchSpec {
  return {
    workload: run.workload,
    repetition: run.repetition,
    kind: run.kind,
    ...(run.kind !== 'off' && { intervalMs: run.intervalMs, copyThreads: run.copyThreads ?? 1 }),
    ...(run.rollbacksRequested !== null && { rollbacks: run.rollbacksRequested }),
    ...(run.kind !== 'off' && run.requestedMode && { mode: run.requestedMode }),
    ...(run.kind !== 'off' && run.predictor && run.predictor !== 'off' && { predictor: run.predictor as BenchPredictor }),
    ...(run.sweep && { sweep: run.sweep }),
  };
}

/** Whether a kind of run is measured against the unprotected run (everything checkpointed but the rollback run). */
function hasOverhead(kind: BenchSpec['kind']): boolean {
  return kind === 'interval' || kind === 'copy-threads' || kind === 'predictor' || kind === 'ring' || kind === 'no-precopy';
}

export function modeLabel(mode: string | null | undefined, predictor: string | null | undefined): string {
  const base = mode === 'cow' ? 'cow' : 's&c';
  return predictor && predictor !== 'off' ? `${base}+${predictor}` : base;
}

function modeText(run: BenchRun): string {
  const fallback = run.requestedMode === 'cow' && run.mode !== 'cow' && !run.capped ? ' (fell back)' : '';
  switch (run.kind) {
    case 'off':
      return 'off';
    case 'rollback':
      return `${modeLabel(run.requestedMode, null)} rollback x${run.rollbacksRequested}${fallback}`;
    case 'ring':
      return 's&c ring';
    case 'no-precopy':
      return `${modeLabel(run.requestedMode, run.predictor)} no-precopy`;
    default:
      return modeLabel(run.requestedMode, run.predictor) + fallback;
  }
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Floor {
  floorPct: number;
  /** With tracking; null where it was not measured (in a summary: unless every workload has it). */
  trackingFloorPct: number | null;
}

/**
 * The floor of each workload at each interval, in %, from its stop-and-copy
 * runs with the --copy-threads count (with or without a predictor): the
 * most pages any of them stored per epoch (a guest slowed less by faults
 * writes more of its pages within an interval, so at full speed it writes
 * at least as many), at their median copy cost, plus the least fixed pause;
 * and with tracking, plus the median least tracking cost of those that
 * measured it.
 */
function floorsByInterval(runs: BenchRun[]): Map<string, Floor> {
  const byKey = new Map<string, BenchRun[]>();
  for (const run of runs) {
    if (run.kind !== 'interval' && run.kind !== 'predictor') continue;
    if (run.capped || run.requestedMode !== 'stop-and-copy' || run.sweep) continue;
    if (!run.intervalMs || run.fixedPauseUs === null || !run.costs) continue;
    const key = `${run.workload}|${run.intervalMs}`;
    byKey.set(key, [...(byKey.get(key) ?? []), run]);
  }
  const floors = new Map<string, Floor>();
  for (const [key, group] of byKey) {
    const pages = Math.max(...group.map((r) => r.dirtyPagesPerEpoch));
    const copyNs = median(group.map((r) => r.costs!.copyNs));
    const fixedNs = Math.min(...group.map((r) => r.fixedPauseUs!)) * 1000;
    const intervalNs = group[0]!.intervalMs! * 1e6;
    const floorPct = (100 * (pages * copyNs + fixedNs)) / intervalNs;
    const tracking = group.map((r) => r.leastTrackingUsPerEpoch).filter((us): us is number => us !== null && us !== undefined);
    floors.set(key, { floorPct, trackingFloorPct: tracking.length ? floorPct + (100 * median(tracking) * 1000) / intervalNs : null });
  }
  return floors;
}

/** Rows in plan order: per workload, each kind of run once, its repetitions folded together. */
export function summarise(runs: BenchRun[]): BenchRow[] {
  const groups = new Map<string, BenchRun[]>();
  const keyOf = (run: BenchRun) =>
    `${run.workload}|${specKey({ ...run, mode: run.requestedMode, predictor: run.kind === 'off' ? null : run.predictor })}`;
  const sweepKey = (run: BenchRun) => (run.sweep ? `W${run.sweep.workingSetMiB}P${run.sweep.pagesPerUnit}` : '');
  for (const run of runs) {
    const key = keyOf(run);
    const group = groups.get(key);
    if (group) group.push(run);
    else groups.set(key, [run]);
  }
  const offRuntime = new Map<string, number>();
  for (const run of runs) {
    if (run.kind === 'off') offRuntime.set(`${run.workload}|${run.repetition}|${sweepKey(run)}`, run.runtimeMs);
  }
  const floors = floorsByInterval(runs);
  const rows: BenchRow[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    const checkpointed = first.kind !== 'off';
    const ratios: number[] = [];
    if (hasOverhead(first.kind)) {
      for (const run of group) {
        const off = offRuntime.get(`${run.workload}|${run.repetition}|${sweepKey(run)}`);
        if (off) ratios.push(run.runtimeMs / off);
      }
    }
    const capped = group.some((r) => r.capped);
    const measured = group.filter((r) => !r.capped);
    const med = (pick: (r: BenchRun) => number) => (measured.length ? median(measured.map(pick)) : null);
    const rolledBack = first.kind === 'rollback';
    const floor = checkpointed && !first.sweep && first.intervalMs ? floors.get(`${first.workload}|${first.intervalMs}`) : undefined;
    const predicting = checkpointed && first.predictor !== undefined && first.predictor !== 'off';
    const medOrNull = (pick: (r: BenchRun) => number | null) => {
      const values = measured.map(pick).filter((v): v is number => v !== null);
      return values.length ? median(values) : null;
    };
    rows.push({
      workload: first.workload,
      kind: first.kind,
      mode: modeText(first),
      dirtyTracking: checkpointed ? (first.dirtyTracking ?? null) : null,
      predictor: predicting ? first.predictor! : null,
      checkpointMode: checkpointed && !capped ? first.mode : checkpointed ? first.requestedMode : null,
      sweep: first.sweep,
      intervalMs: checkpointed ? (first.intervalMs ?? null) : null,
      copyThreads: checkpointed ? first.copyThreads : null,
      capped,
      runtimeS: median(group.map((r) => r.runtimeMs)) / 1000,
      overheadPct: ratios.length ? (median(ratios) - 1) * 100 : null,
      epochs: checkpointed ? med((r) => r.epochs) : null,
      lateMs: checkpointed ? med((r) => r.lateMs) : null,
      pauseP50Us: checkpointed ? med((r) => r.pauseUs.p50) : null,
      pauseP99Us: checkpointed ? med((r) => r.pauseUs.p99) : null,
      dirtyPagesPerEpoch: checkpointed ? med((r) => r.dirtyPagesPerEpoch) : null,
      dirtyPagesP99: checkpointed ? med((r) => r.dirtyPagesP99) : null,
      usualPauseP99Us: checkpointed ? med((r) => r.usualPauseUs.p99) : null,
      faultsPerEpoch: checkpointed ? med((r) => r.faultsPerEpoch) : null,
      faultUsPerEpoch: checkpointed ? med((r) => r.faultUsPerEpoch) : null,
      pagesCopiedPerEpoch: checkpointed ? med((r) => r.pagesCopiedPerEpoch) : null,
      floorPct: floor?.floorPct ?? null,
      trackingFloorPct: floor?.trackingFloorPct ?? null,
      precision: predicting ? medOrNull((r) => r.precision) : null,
      recall: predicting ? medOrNull((r) => r.recall) : null,
      storeMaxMiB: checkpointed && measured.length ? Math.max(...measured.map((r) => r.storeBytesMax)) / 2 ** 20 : null,
      rollbackP50Us: rolledBack ? med((r) => r.rollbackUs.p50) : null,
      rollbackP99Us: rolledBack ? med((r) => r.rollbackUs.p99) : null,
      pagesRestoredPerRollback: rolledBack ? med((r) => r.pagesRestoredPerRollback) : null,
      repetitions: group.length,
    });
  }
  return rows;
}

const KIND_ORDER: BenchSpec['kind'][] = ['interval', 'copy-threads', 'no-precopy', 'predictor', 'ring'];

/** The mode a row's runs asked for (the `mode` text starts with it). */
function requestedModeOf(row: BenchRow): BenchMode {
  return row.mode.startsWith('cow') ? 'cow' : 'stop-and-copy';
}

function geomean(values: number[]): number {
  return Math.exp(values.reduce((sum, x) => sum + Math.log(x), 0) / values.length);
}

/**
 * Geometric mean overhead per kind of run (interval, copy threads, predictor,
 * dirty tracking) over the workloads that have it: the plain runs first, by
 * copy threads and interval, then the predictors, then the dirty ring.
 */
export function geomeans(rows: BenchRow[]): GeomeanRow[] {
  const groups = new Map<string, { first: BenchRow; intervalMs: number; copyThreads: number; ratios: number[] }>();
  for (const row of rows) {
    if (row.overheadPct === null || row.intervalMs === null || row.copyThreads === null || row.sweep) continue;
    const key = `${row.kind}:${requestedModeOf(row)}:${row.intervalMs}:${row.copyThreads}:${row.predictor ?? ''}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { first: row, intervalMs: row.intervalMs, copyThreads: row.copyThreads, ratios: [] }));
    group.ratios.push(1 + row.overheadPct / 100);
  }
  const predictorRank = (p: string | null) => {
    const i = (BENCH_PREDICTORS as readonly string[]).indexOf(p ?? '');
    return i < 0 ? BENCH_PREDICTORS.length : i;
  };
  return [...groups.values()]
    .sort(
      (a, b) =>
        KIND_ORDER.indexOf(a.first.kind) - KIND_ORDER.indexOf(b.first.kind) ||
        BENCH_MODES.indexOf(requestedModeOf(a.first)) - BENCH_MODES.indexOf(requestedModeOf(b.first)) ||
        (a.first.predictor ? 1 : 0) - (b.first.predictor ? 1 : 0) ||
        a.copyThreads - b.copyThreads ||
        a.intervalMs - b.intervalMs ||
        predictorRank(a.first.predictor) - predictorRank(b.first.predictor),
    )
    .map((g) => {
      const mode = requestedModeOf(g.first);
      let label = `${mode} ${g.intervalMs} ms, ${g.copyThreads} copy thread${g.copyThreads === 1 ? '' : 's'}`;
      if (g.first.predictor) label += `, ${g.first.predictor} predictor`;
      if (g.first.kind === 'ring') label += ', dirty ring';
      if (g.first.kind === 'no-precopy') label += ', not copying ahead';
      return {
        label,
        kind: g.first.kind,
        mode,
        intervalMs: g.intervalMs,
        copyThreads: g.copyThreads,
        predictor: g.first.predictor,
        dirtyTracking: g.first.kind === 'ring' ? ('ring' as const) : ('bitmap' as const),
        workloads: g.ratios.length,
        overheadPct: (geomean(g.ratios) - 1) * 100,
      };
    });
}

/**
 * Ring against bitmap at the ring runs' interval: per workload, the ring row
 * and the plain interval row (as many copy threads, no predictor) at that interval.
 * Null when there are no ring rows.
 */
export function compareDirtyTracking(rows: BenchRow[]): DirtyTrackingComparison | null {
  const rings = rows.filter((r) => r.kind === 'ring' && r.intervalMs !== null);
  if (rings.length === 0) return null;
  const intervalMs = rings[0]!.intervalMs!;
  const workloads: string[] = [];
  const unpaired: string[] = [];
  const pauseRatios: number[] = [];
  const ringRatios: number[] = [];
  const bitmapRatios: number[] = [];
  for (const ring of rings) {
    if (ring.intervalMs !== intervalMs) continue;
    const bitmap = rows.find(
      (r) =>
        r.workload === ring.workload &&
        r.kind === 'interval' &&
        r.intervalMs === intervalMs &&
        r.copyThreads === ring.copyThreads &&
        r.mode === 's&c',
    );
    if (
      !bitmap ||
      ring.overheadPct === null ||
      bitmap.overheadPct === null ||
      !(ring.pauseP50Us! > 0) ||
      !(bitmap.pauseP50Us! > 0)
    ) {
      unpaired.push(ring.workload);
      continue;
    }
    workloads.push(ring.workload);
    pauseRatios.push(ring.pauseP50Us! / bitmap.pauseP50Us!);
    ringRatios.push(1 + ring.overheadPct / 100);
    bitmapRatios.push(1 + bitmap.overheadPct / 100);
  }
  const paired = workloads.length > 0;
  return {
    intervalMs,
    workloads,
    unpaired,
    pauseP50Ratio: paired ? geomean(pauseRatios) : null,
    ringOverheadPct: paired ? (geomean(ringRatios) - 1) * 100 : null,
    bitmapOverheadPct: paired ? (geomean(bitmapRatios) - 1) * 100 : null,
  };
}

/** Per mode (with or without prediction): geometric-mean overhead at one interval over the suite's workloads. */
export interface ModeSummary {
  label: string;
  mode: BenchMode;
  predictor: string | null;
  intervalMs: number;
  overheadPct: number;
  workloads: number;
  /** Some workload's run hit the slowdown cap: the geomean is a lower bound. */
  lowerBound: boolean;
}

export function modeSummaries(rows: BenchRow[], intervalMs: number): ModeSummary[] {
  const out: ModeSummary[] = [];
  const plain = rows.filter((r) => r.kind === 'interval' && !r.sweep && r.intervalMs === intervalMs && r.overheadPct !== null);
  const labels = [...new Set(plain.map((r) => r.mode.replace(' (fell back)', '')))];
  for (const label of labels) {
    const group = plain.filter((r) => r.mode.replace(' (fell back)', '') === label);
    out.push({
      label,
      mode: requestedModeOf(group[0]!),
      predictor: group[0]!.predictor,
      intervalMs,
      overheadPct: (geomean(group.map((r) => 1 + r.overheadPct! / 100)) - 1) * 100,
      workloads: group.length,
      lowerBound: group.some((r) => r.capped),
    });
  }
  return out;
}

/**
 * The floors' geometric mean at one interval over the workloads that have
 * one: what no stop-and-copy mode can go below here, to read the modes'
 * geomeans against.
 */
export function floorSummary(rows: BenchRow[], intervalMs: number): FloorSummary | null {
  const byWorkload = new Map<string, Floor>();
  for (const r of rows) {
    if (r.kind === 'interval' && !r.sweep && r.intervalMs === intervalMs && r.floorPct !== null) {
      byWorkload.set(r.workload, { floorPct: r.floorPct, trackingFloorPct: r.trackingFloorPct });
    }
  }
  const floors = [...byWorkload.values()];
  if (floors.length === 0) return null;
  const geomeanPct = (pcts: number[]) => (geomean(pcts.map((f) => 1 + f / 100)) - 1) * 100;
  const tracking = floors.map((f) => f.trackingFloorPct).filter((pct) => pct !== null);
  return {
    floorPct: geomeanPct(floors.map((f) => f.floorPct)),
    trackingFloorPct: tracking.length === floors.length ? geomeanPct(tracking) : null,
    workloads: floors.length,
  };
}

export interface FloorSummary extends Floor {
  workloads: number;
}

/** Overhead per mode and interval, geomean over the workloads: the chart's lines. */
export function overheadByInterval(rows: BenchRow[]): { label: string; points: { intervalMs: number; overheadPct: number; lowerBound: boolean }[] }[] {
  const intervals = [...new Set(rows.filter((r) => r.kind === 'interval' && !r.sweep).map((r) => r.intervalMs!))].sort((a, b) => a - b);
  const lines = new Map<string, { intervalMs: number; overheadPct: number; lowerBound: boolean }[]>();
  for (const intervalMs of intervals) {
    for (const s of modeSummaries(rows, intervalMs)) {
      lines.set(s.label, [...(lines.get(s.label) ?? []), { intervalMs, overheadPct: s.overheadPct, lowerBound: s.lowerBound }]);
    }
  }
  return [...lines.entries()].map(([label, points]) => ({ label, points }));
}

/** The dirtier sweep: per cell (working set x pages per unit), each mode's overhead and the winner. */
export interface SweepCell {
  workingSetMiB: number;
  pagesPerUnit: number;
  dirtyPagesPerEpoch: number | null;
  /** With pauseUs.p99: what the longest pauses copied. */
  dirtyPagesP99: number | null;
  overheads: { label: string; overheadPct: number | null; capped: boolean }[];
  best: string | null;
  /**
   * The pauses of the run in the default mode, us (usualP99: over the epochs
   * that dirtied at most twice the median); null without that run, or when it
   * hit the slowdown cap.
   */
  pauseUs: { p50: number; p99: number; usualP99: number } | null;
  /** The same from a run in the default mode that did not copy ahead, if there was one. */
  pauseWithoutPrecopyUs: { p50: number; p99: number } | null;
}

/** The sweep's cells; dirty pages and pauses from the run in `defaultMode` (a mode label, e.g. s&c+cost). */
export function sweepCells(rows: BenchRow[], defaultMode: string): SweepCell[] {
  const cells = new Map<string, SweepCell>();
  for (const row of rows) {
    if (!row.sweep || row.kind === 'off') continue;
    const key = `${row.sweep.workingSetMiB}x${row.sweep.pagesPerUnit}`;
    let cell = cells.get(key);
    if (!cell) {
      cell = {
        workingSetMiB: row.sweep.workingSetMiB,
        pagesPerUnit: row.sweep.pagesPerUnit,
        dirtyPagesPerEpoch: null,
        dirtyPagesP99: null,
        overheads: [],
        best: null,
        pauseUs: null,
        pauseWithoutPrecopyUs: null,
      };
      cells.set(key, cell);
    }
    if (row.mode === defaultMode) {
      cell.dirtyPagesPerEpoch = row.dirtyPagesPerEpoch;
      cell.dirtyPagesP99 = row.dirtyPagesP99;
      if (!row.capped) cell.pauseUs = { p50: row.pauseP50Us!, p99: row.pauseP99Us!, usualP99: row.usualPauseP99Us! };
    }
    if (row.mode === `${defaultMode} no-precopy` && !row.capped) {
      cell.pauseWithoutPrecopyUs = { p50: row.pauseP50Us!, p99: row.pauseP99Us! };
    }
    cell.overheads.push({ label: row.mode, overheadPct: row.overheadPct, capped: row.capped });
  }
  for (const cell of cells.values()) {
    const ranked = cell.overheads.filter((o) => o.overheadPct !== null && !o.capped).sort((a, b) => a.overheadPct! - b.overheadPct!);
    cell.best = ranked[0]?.label ?? null;
  }
  return [...cells.values()].sort((a, b) => a.workingSetMiB - b.workingSetMiB || a.pagesPerUnit - b.pagesPerUnit);
}
