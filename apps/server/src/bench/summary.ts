// What `uckpt bench` runs, and how its raw results become the printed rows:
// overheads are ratios to the unprotected run of the same repetition, so
// that a noisy shared machine slows both sides of each ratio alike.
import type { CheckpointedRunResult } from '@uckpt/native-kvm';

/** One planned run. */
export interface BenchSpec {
  workload: string;
  /** 0-based. */
  repetition: number;
  /**
   * off: unprotected (the baseline); interval: stop-and-copy at one of the
   * chosen intervals, 1 copy thread; copy-threads: an extra interval run with
   * more copy threads; rollback: an extra run with rollbacks (never used for
   * overhead, since rolled-back work is redone); predictor: an extra interval
   * run with dirty-page prediction; ring: an extra interval run with KVM dirty
   * rings instead of the dirty bitmap.
   */
  kind: 'off' | 'interval' | 'copy-threads' | 'rollback' | 'predictor' | 'ring';
  intervalMs?: number;
  copyThreads?: number;
  rollbacks?: number;
  /** For kind predictor. */
  predictor?: BenchPredictor;
}

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
  intervalMs: number | null;
  copyThreads: number | null;
  /** Medians over repetitions unless said otherwise. */
  runtimeS: number;
  /** Median over repetitions of (runtime / runtime off in the same repetition) - 1, in %. */
  overheadPct: number | null;
  epochs: number | null;
  pauseP50Us: number | null;
  pauseP99Us: number | null;
  dirtyPagesPerEpoch: number | null;
  /** Write-protection faults per epoch (the written pages not predicted). */
  faultsPerEpoch: number | null;
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
  intervalMs: number;
  copyThreads: number;
  predictor: string | null;
  dirtyTracking: 'bitmap' | 'ring';
  workloads: number;
  /** Geometric mean over the workloads of (1 + overhead), minus 1, in %. */
  overheadPct: number;
}

/** Dirty-tracking comparison at one interval, 1 copy thread: ring runs against the plain (bitmap) interval runs. */
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
  predictor?: string | undefined;
}): string {
  const base = `${spec.kind}:${spec.intervalMs ?? ''}:${spec.copyThreads ?? ''}`;
  return spec.kind === 'predictor' ? `${base}:${spec.predictor ?? ''}` : base;
}

export function describeSpec(spec: BenchSpec): string {
  if (spec.kind === 'off') return 'off';
  let text = `stop-and-copy ${spec.intervalMs} ms`;
  if (spec.kind === 'copy-threads') text += `, ${spec.copyThreads} copy threads`;
  if (spec.kind === 'rollback') text += `, ${spec.rollbacks} rollbacks`;
  if (spec.kind === 'predictor') text += `, ${spec.predictor} predictor`;
  if (spec.kind === 'ring') text += ', dirty ring';
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
    ...(run.kind === 'predictor' && { predictor: run.predictor as BenchPredictor }),
  };
}

/** Whether a kind of run is measured against the unprotected run (everything checkpointed but the rollback run). */
function hasOverhead(kind: BenchSpec['kind']): boolean {
  return kind === 'interval' || kind === 'copy-threads' || kind === 'predictor' || kind === 'ring';
}

function modeText(run: BenchRun): string {
  switch (run.kind) {
    case 'off':
      return 'off';
    case 'rollback':
      return `rollback x${run.rollbacksRequested}`;
    case 'predictor':
      return `s&c+${run.predictor}`;
    case 'ring':
      return 's&c ring';
    default:
      return 's&c';
  }
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Rows in plan order: per workload, each kind of run once, its repetitions folded together. */
export function summarise(runs: BenchRun[]): BenchRow[] {
  const groups = new Map<string, BenchRun[]>();
  for (const run of runs) {
    const key = `${run.workload}|${specKey(run)}`;
    const group = groups.get(key);
    if (group) group.push(run);
    else groups.set(key, [run]);
  }
  const offRuntime = new Map<string, number>();
  for (const run of runs) {
    if (run.kind === 'off') offRuntime.set(`${run.workload}|${run.repetition}`, run.runtimeMs);
  }

  const rows: BenchRow[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    const checkpointed = first.kind !== 'off';
    const ratios: number[] = [];
    if (hasOverhead(first.kind)) {
      for (const run of group) {
        const off = offRuntime.get(`${run.workload}|${run.repetition}`);
        if (off) ratios.push(run.runtimeMs / off);
      }
    }
    const med = (pick: (r: BenchRun) => number) => median(group.map(pick));
    const rolledBack = first.kind === 'rollback';
    const predicting = checkpointed && first.predictor !== undefined && first.predictor !== 'off';
    const medOrNull = (pick: (r: BenchRun) => number | null) => {
      const values = group.map(pick).filter((v): v is number => v !== null);
      return values.length ? median(values) : null;
    };
    rows.push({
      workload: first.workload,
      kind: first.kind,
      mode: modeText(first),
      dirtyTracking: checkpointed ? (first.dirtyTracking ?? null) : null,
      predictor: predicting ? first.predictor! : null,
      intervalMs: checkpointed ? (first.intervalMs ?? null) : null,
      copyThreads: checkpointed ? first.copyThreads : null,
      runtimeS: med((r) => r.runtimeMs) / 1000,
      overheadPct: ratios.length ? (median(ratios) - 1) * 100 : null,
      epochs: checkpointed ? med((r) => r.epochs) : null,
      pauseP50Us: checkpointed ? med((r) => r.pauseUs.p50) : null,
      pauseP99Us: checkpointed ? med((r) => r.pauseUs.p99) : null,
      dirtyPagesPerEpoch: checkpointed ? med((r) => r.dirtyPagesPerEpoch) : null,
      faultsPerEpoch: checkpointed ? med((r) => r.faultsPerEpoch) : null,
      precision: predicting ? medOrNull((r) => r.precision) : null,
      recall: predicting ? medOrNull((r) => r.recall) : null,
      storeMaxMiB: checkpointed ? Math.max(...group.map((r) => r.storeBytesMax)) / 2 ** 20 : null,
      rollbackP50Us: rolledBack ? med((r) => r.rollbackUs.p50) : null,
      rollbackP99Us: rolledBack ? med((r) => r.rollbackUs.p99) : null,
      pagesRestoredPerRollback: rolledBack ? med((r) => r.pagesRestoredPerRollback) : null,
      repetitions: group.length,
    });
  }
  return rows;
}

const KIND_ORDER: BenchSpec['kind'][] = ['interval', 'copy-threads', 'predictor', 'ring'];

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
    if (row.overheadPct === null || row.intervalMs === null || row.copyThreads === null) continue;
    const key = `${row.kind}:${row.intervalMs}:${row.copyThreads}:${row.predictor ?? ''}`;
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
        a.copyThreads - b.copyThreads ||
        a.intervalMs - b.intervalMs ||
        predictorRank(a.first.predictor) - predictorRank(b.first.predictor),
    )
    .map((g) => {
      let label = `stop-and-copy ${g.intervalMs} ms, ${g.copyThreads} copy thread${g.copyThreads === 1 ? '' : 's'}`;
      if (g.first.kind === 'predictor') label += `, ${g.first.predictor} predictor`;
      if (g.first.kind === 'ring') label += ', dirty ring';
      return {
        label,
        kind: g.first.kind,
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
 * and the plain interval row (1 copy thread, no predictor) at that interval.
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
      (r) => r.workload === ring.workload && r.kind === 'interval' && r.intervalMs === intervalMs && r.copyThreads === ring.copyThreads,
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
