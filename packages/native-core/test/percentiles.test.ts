// The project's one percentile definition (nearest rank), used by the
// dashboard, the server's history and the lab alike.
import { describe, expect, it } from 'vitest';
import { nearestRank, percentiles } from '../lib/percentiles.js';

describe('nearestRank', () => {
  it('picks the value at rank ceil(p% of n)', () => {
    const values = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(nearestRank(values, 50)).toBe(50);
    expect(nearestRank(values, 99)).toBe(99);
    expect(nearestRank(values, 100)).toBe(100);
    expect(nearestRank([1, 2, 3, 4], 50)).toBe(2);
    expect(nearestRank([1, 2, 3, 4], 51)).toBe(3);
    expect(nearestRank([7], 99)).toBe(7);
    expect(nearestRank([], 50)).toBe(0);
  });

  it('percentiles sorts a sample in any order without changing it', () => {
    const sample = [5, 1, 4, 2, 3];
    expect(percentiles(sample)).toEqual({ p50: 3, p99: 5 });
    expect(sample).toEqual([5, 1, 4, 2, 3]);
    expect(percentiles([])).toEqual({ p50: 0, p99: 0 });
  });
});
