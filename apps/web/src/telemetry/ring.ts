// Fixed-capacity column store over typed arrays: one Float64Array per column,
// a shared head, nothing allocated per row. The newest row overwrites the
// oldest once full. Missing values are NaN.
import { nearestRank } from '@uckpt/native-core/percentiles';

export class RingTable<K extends string> {
  readonly capacity: number;
  private readonly cols: Record<K, Float64Array>;
  private head = 0; // index of the next write
  private size = 0;

  constructor(columns: readonly K[], capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    const cols = {} as Record<K, Float64Array>;
    for (const c of columns) cols[c] = new Float64Array(capacity).fill(Number.NaN);
    this.cols = cols;
  }

  get length(): number {
    return this.size;
  }

  /** Appends a row; columns left out are NaN. Returns the slot written. */
  push(row: Partial<Record<K, number>>): number {
    const slot = this.head;
    for (const c in this.cols) {
      const v = row[c];
      this.cols[c][slot] = v === undefined ? Number.NaN : v;
    }
    this.head = (this.head + 1) % this.capacity;
    if (this.size < this.capacity) this.size += 1;
    return slot;
  }

  /** Physical slot of the i-th row in age order (0 = oldest, length-1 = newest). */
  private slot(i: number): number {
    return (this.head - this.size + i + this.capacity) % this.capacity;
  }

  /** Value of column c in row i (0 = oldest); NaN out of range. */
  get(c: K, i: number): number {
    if (i < 0 || i >= this.size) return Number.NaN;
    return this.cols[c][this.slot(i)]!;
  }

  /** Overwrites column c of row i (0 = oldest); used to update an open bucket. */
  set(c: K, i: number, v: number): void {
    if (i < 0 || i >= this.size) throw new RangeError(`row ${i} out of range`);
    this.cols[c][this.slot(i)] = v;
  }

  /** Newest value of column c, NaN when empty. */
  last(c: K): number {
    return this.get(c, this.size - 1);
  }

  /** Index of the first row whose column c is >= v, assuming c ascends. */
  lowerBound(c: K, v: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.get(c, mid) < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
    for (const c in this.cols) this.cols[c].fill(Number.NaN);
  }
}

/** The p-th percentile of the first n values of a scratch array (sorted in place), by the project's one definition; NaN for none. */
export function percentileOf(values: Float64Array, n: number, p: number): number {
  if (n <= 0) return Number.NaN;
  return nearestRank(values.subarray(0, n).sort(), p);
}
