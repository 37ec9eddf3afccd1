import { describe, expect, it } from 'vitest';
import { percentileOf, RingTable } from '../src/telemetry/ring.ts';

describe('RingTable', () => {
  it('keeps rows in age order and overwrites the oldest when full', () => {
    const r = new RingTable(['t', 'v'] as const, 3);
    expect(r.length).toBe(0);
    expect(Number.isNaN(r.last('v'))).toBe(true);
    for (let i = 1; i <= 5; i++) r.push({ t: i, v: i * 10 });
    expect(r.length).toBe(3);
    expect([0, 1, 2].map((i) => r.get('t', i))).toEqual([3, 4, 5]);
    expect(r.last('v')).toBe(50);
    expect(Number.isNaN(r.get('t', 3))).toBe(true);
    expect(Number.isNaN(r.get('t', -1))).toBe(true);
  });

  it('stores missing columns as NaN and lets the newest row be updated', () => {
    const r = new RingTable(['t', 'v'] as const, 4);
    r.push({ t: 1 });
    expect(Number.isNaN(r.get('v', 0))).toBe(true);
    r.set('v', 0, 7);
    expect(r.get('v', 0)).toBe(7);
    expect(() => r.set('v', 1, 1)).toThrow(RangeError);
  });

  it('finds the first row at or after a value across the wrap-around', () => {
    const r = new RingTable(['t'] as const, 5);
    for (let t = 0; t < 8; t++) r.push({ t: t * 10 }); // holds 30..70
    expect(r.lowerBound('t', 0)).toBe(0);
    expect(r.lowerBound('t', 30)).toBe(0);
    expect(r.lowerBound('t', 31)).toBe(1);
    expect(r.lowerBound('t', 70)).toBe(4);
    expect(r.lowerBound('t', 71)).toBe(5);
  });

  it('allocates nothing per row: the columns are fixed typed arrays', () => {
    const r = new RingTable(['a'] as const, 2);
    const cols = (r as unknown as { cols: { a: Float64Array } }).cols;
    const before = cols.a;
    for (let i = 0; i < 100; i++) r.push({ a: i });
    expect((r as unknown as { cols: { a: Float64Array } }).cols.a).toBe(before);
    expect(before.length).toBe(2);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new RingTable(['a'] as const, 0)).toThrow(RangeError);
    expect(() => new RingTable(['a'] as const, 1.5)).toThrow(RangeError);
  });
});

describe('percentileOf', () => {
  it('is the shared nearest-rank percentile over the first n values', () => {
    const a = new Float64Array([5, 1, 4, 2, 3, 99]);
    expect(percentileOf(a, 5, 50)).toBe(3);
    expect(percentileOf(a, 5, 100)).toBe(5);
    expect(percentileOf(new Float64Array([10, 20]), 2, 99)).toBe(20);
    expect(Number.isNaN(percentileOf(a, 0, 50))).toBe(true);
  });
});
