// Per-VM chart series: epoch records folded into fixed-width time buckets, one
// RingTable per resolution. A bucket holds the per-epoch mean of each series,
// the pause p50/p99 over its epochs, how late its checkpoints began in all,
// and the epoch rate. The open bucket is
// written back lazily, when a snapshot asks for it, so ingest costs a few
// additions per epoch whatever the rate.
import type { EpochEvent } from '../api/types.ts';
import { usToMs } from '@uckpt/native-core/units';
import { percentileOf, RingTable } from './ring.ts';

export const bucketColumns = [
  't',
  'epochs',
  'epochRate',
  'dirty',
  'pauseP50',
  'pauseP99',
  'overhead',
  'faults',
  'precision',
  'recall',
  'storeMiB',
  'progressRate',
  'lateMs',
] as const;
export type BucketColumn = (typeof bucketColumns)[number];

/** One chart point (pause percentiles and lateness in ms, store in MiB, prediction in %): plain numbers (null where there is no value), as Recharts wants them. */
export type ChartPoint = { [K in BucketColumn]: number | null } & { pauseBand: [number, number] | null };

const PAUSE_SAMPLES = 4096;

class OpenBucket {
  start = Number.NaN;
  n = 0;
  dirty = 0;
  faults = 0;
  overheadSum = 0;
  overheadN = 0;
  precisionSum = 0;
  precisionN = 0;
  recallSum = 0;
  recallN = 0;
  progressSum = 0;
  lateUs = 0;
  storeBytes = Number.NaN;
  pauses = new Float64Array(PAUSE_SAMPLES);
  pauseN = 0; // samples held (<= PAUSE_SAMPLES)

  reset(start: number): void {
    this.start = start;
    this.n = this.dirty = this.faults = 0;
    this.overheadSum = this.overheadN = this.precisionSum = this.precisionN = this.recallSum = this.recallN = 0;
    this.progressSum = this.lateUs = 0;
    this.storeBytes = Number.NaN;
    this.pauseN = 0;
  }

  add(e: EpochEvent): void {
    this.n += 1;
    this.dirty += e.dirtyPages;
    this.faults += e.faults;
    if (e.overheadPct !== null) {
      this.overheadSum += e.overheadPct;
      this.overheadN += 1;
    }
    if (e.precision !== null) {
      this.precisionSum += e.precision;
      this.precisionN += 1;
    }
    if (e.recall !== null) {
      this.recallSum += e.recall;
      this.recallN += 1;
    }
    this.progressSum += e.progressRate;
    this.lateUs += e.lateUs;
    this.storeBytes = e.storeBytes;
    // Reservoir sampling keeps the percentiles honest past PAUSE_SAMPLES epochs.
    if (this.pauseN < PAUSE_SAMPLES) this.pauses[this.pauseN++] = e.pauseUs;
    else {
      const j = Math.floor(Math.random() * this.n);
      if (j < PAUSE_SAMPLES) this.pauses[j] = e.pauseUs;
    }
  }

  row(widthMs: number, elapsedMs: number): Record<BucketColumn, number> {
    const n = this.n;
    const mean = (s: number, k: number) => (k > 0 ? s / k : Number.NaN);
    // Sorting reorders the samples, which is harmless for percentiles.
    return {
      t: this.start,
      epochs: n,
      epochRate: n / (Math.max(1, Math.min(widthMs, elapsedMs)) / 1000),
      dirty: mean(this.dirty, n),
      pauseP50: usToMs(percentileOf(this.pauses, this.pauseN, 50)),
      pauseP99: usToMs(percentileOf(this.pauses, this.pauseN, 99)),
      overhead: mean(this.overheadSum, this.overheadN),
      faults: mean(this.faults, n),
      precision: mean(this.precisionSum * 100, this.precisionN),
      recall: mean(this.recallSum * 100, this.recallN),
      storeMiB: this.storeBytes / 1048576,
      progressRate: mean(this.progressSum, n),
      lateMs: usToMs(this.lateUs),
    };
  }
}

/** Epoch records bucketed at one resolution. */
export class BucketSeries {
  readonly table: RingTable<BucketColumn>;
  private readonly open = new OpenBucket();
  private openWritten = true; // the open bucket's row is up to date in the table
  private lastTime = Number.NaN;

  constructor(
    readonly widthMs: number,
    capacity: number,
  ) {
    this.table = new RingTable(bucketColumns, capacity);
  }

  add(e: EpochEvent): void {
    const start = Math.floor(e.time / this.widthMs) * this.widthMs;
    if (Number.isNaN(this.open.start)) {
      this.open.reset(start);
      this.table.push({ t: start });
    } else if (start > this.open.start) {
      this.flush(true);
      // A gap of more than one bucket becomes an empty row, so lines break there.
      if (start > this.open.start + this.widthMs) this.table.push({ t: this.open.start + this.widthMs });
      this.open.reset(start);
      this.table.push({ t: start });
    }
    // Late records (start < open bucket) count towards the open bucket.
    this.open.add(e);
    this.lastTime = Math.max(Number.isNaN(this.lastTime) ? e.time : this.lastTime, e.time);
    this.openWritten = false;
  }

  /** Writes the open bucket's aggregates into its row; a closed bucket's rate is over its whole width. */
  flush(closed = false): void {
    if (this.openWritten || this.table.length === 0) return;
    const elapsed = closed ? this.widthMs : this.lastTime - this.open.start + 1;
    const row = this.open.row(this.widthMs, elapsed);
    const i = this.table.length - 1;
    for (const c of bucketColumns) this.table.set(c, i, row[c]);
    this.openWritten = true;
  }

  /** Chart points with t >= since, oldest first. */
  points(since: number): ChartPoint[] {
    this.flush();
    const t = this.table;
    const out: ChartPoint[] = [];
    for (let i = t.lowerBound('t', since); i < t.length; i++) {
      const p = {} as ChartPoint;
      for (const c of bucketColumns) {
        const v = t.get(c, i);
        p[c] = Number.isFinite(v) ? v : null;
      }
      p.pauseBand = p.pauseP50 !== null && p.pauseP99 !== null ? [p.pauseP50, p.pauseP99] : null;
      out.push(p);
    }
    return out;
  }

  clear(): void {
    this.table.clear();
    this.open.reset(Number.NaN);
    this.openWritten = true;
    this.lastTime = Number.NaN;
  }
}

export type ChartWindow = '1m' | '10m';
export const windows: Record<ChartWindow, { label: string; spanMs: number; bucketMs: number; tickMs: number }> = {
  '1m': { label: '1 min', spanMs: 60_000, bucketMs: 1000, tickMs: 15_000 },
  '10m': { label: '10 min', spanMs: 600_000, bucketMs: 10_000, tickMs: 120_000 },
};

/** Everything charted for one VM: both resolutions and a ring of recent epoch times for the rate. */
export class VmSeries {
  readonly fine = new BucketSeries(windows['1m'].bucketMs, 90);
  readonly coarse = new BucketSeries(windows['10m'].bucketMs, 66);
  private readonly times = new RingTable(['t'] as const, 1024);
  latest: EpochEvent | null = null;

  add(e: EpochEvent): void {
    this.fine.add(e);
    this.coarse.add(e);
    this.times.push({ t: e.time });
    this.latest = e;
  }

  /** Epochs per second over the last `spanMs` before `now` (server clock). */
  epochRate(now: number, spanMs = 5000): number {
    const n = this.times.length;
    if (n === 0) return 0;
    const from = now - spanMs;
    const first = this.times.lowerBound('t', from);
    const count = n - first;
    if (count === 0) return 0;
    // With the ring full the span it covers may be shorter than spanMs.
    const span = first === 0 && n === this.times.capacity ? now - this.times.get('t', 0) : spanMs;
    return (count / Math.max(span, 1)) * 1000;
  }

  points(window: ChartWindow, now: number): ChartPoint[] {
    const w = windows[window];
    return (window === '1m' ? this.fine : this.coarse).points(now - w.spanMs);
  }

  clear(): void {
    this.fine.clear();
    this.coarse.clear();
    this.times.clear();
    this.latest = null;
  }
}
