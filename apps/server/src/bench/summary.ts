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
   * overhead, since rolled-back work is redone).
   */
  kind: 'off' | 'interval' | 'copy-threads' | 'rollback';
  intervalMs?: number;
  copyThreads?: number;
  rollbacks?: number;
}

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
  mode: string;
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
  /** Largest over repetitions. */
  storeMaxMiB: number | null;
  rollbackP50Us: number | null;
  rollbackP99Us: number | null;
  pagesRestoredPerRollback: number | null;
  repetitions: number;
}

export interface GeomeanRow {
  label: string;
  intervalMs: number;
  copyThreads: number;
  workloads: number;
  /** Geometric mean over the workloads of (1 + overhead), minus 1, in %. */
  overheadPct: number;
}

export function specKey(spec: { kind: BenchSpec['kind']; intervalMs?: number | undefined; copyThreads?: number | null | undefined }): string {
  return `${spec.kind}:${spec.intervalMs ?? ''}:${spec.copyThreads ?? ''}`;
}

export function describeSpec(spec: BenchSpec): string {
  if (spec.kind === 'off') return 'off';
  let text = `stop-and-copy ${spec.intervalMs} ms`;
  if (spec.kind === 'copy-threads') text += `, ${spec.copyThreads} copy threads`;
  if (spec.kind === 'rollback') text += `, ${spec.rollbacks} rollbacks`;
  return text;
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
    if (first.kind === 'interval' || first.kind === 'copy-threads') {
      for (const run of group) {
        const off = offRuntime.get(`${run.workload}|${run.repetition}`);
        if (off) ratios.push(run.runtimeMs / off);
      }
    }
    const med = (pick: (r: BenchRun) => number) => median(group.map(pick));
    const rolledBack = first.kind === 'rollback';
    rows.push({
      workload: first.workload,
      mode: first.kind === 'off' ? 'off' : rolledBack ? `rollback x${first.rollbacksRequested}` : 'stop-and-copy',
      intervalMs: checkpointed ? (first.intervalMs ?? null) : null,
      copyThreads: checkpointed ? first.copyThreads : null,
      runtimeS: med((r) => r.runtimeMs) / 1000,
      overheadPct: ratios.length ? (median(ratios) - 1) * 100 : null,
      epochs: checkpointed ? med((r) => r.epochs) : null,
      pauseP50Us: checkpointed ? med((r) => r.pauseUs.p50) : null,
      pauseP99Us: checkpointed ? med((r) => r.pauseUs.p99) : null,
      dirtyPagesPerEpoch: checkpointed ? med((r) => r.dirtyPagesPerEpoch) : null,
      storeMaxMiB: checkpointed ? Math.max(...group.map((r) => r.storeBytesMax)) / 2 ** 20 : null,
      rollbackP50Us: rolledBack ? med((r) => r.rollbackUs.p50) : null,
      rollbackP99Us: rolledBack ? med((r) => r.rollbackUs.p99) : null,
      pagesRestoredPerRollback: rolledBack ? med((r) => r.pagesRestoredPerRollback) : null,
      repetitions: group.length,
    });
  }
  return rows;
}

/** Geometric mean overhead per (interval, copy threads) over the workloads that have it. */
export function geomeans(rows: BenchRow[]): GeomeanRow[] {
  const groups = new Map<string, { intervalMs: number; copyThreads: number; logs: number[] }>();
  for (const row of rows) {
    if (row.overheadPct === null || row.intervalMs === null || row.copyThreads === null) continue;
    const key = `${row.intervalMs}:${row.copyThreads}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { intervalMs: row.intervalMs, copyThreads: row.copyThreads, logs: [] }));
    group.logs.push(Math.log(1 + row.overheadPct / 100));
  }
  return [...groups.values()]
    .sort((a, b) => a.copyThreads - b.copyThreads || a.intervalMs - b.intervalMs)
    .map((g) => ({
      label: `stop-and-copy ${g.intervalMs} ms, ${g.copyThreads} copy thread${g.copyThreads === 1 ? '' : 's'}`,
      intervalMs: g.intervalMs,
      copyThreads: g.copyThreads,
      workloads: g.logs.length,
      overheadPct: (Math.exp(g.logs.reduce((s, x) => s + x, 0) / g.logs.length) - 1) * 100,
    }));
}
