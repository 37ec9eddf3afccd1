import { describe, expect, it } from 'vitest';
import { BucketSeries, VmSeries } from '../src/telemetry/series.ts';
import { epoch } from './helpers.ts';

describe('BucketSeries', () => {
  it('folds epochs into one row per bucket with means, pause percentiles and the epoch rate', () => {
    const s = new BucketSeries(1000, 10);
    // 20 epochs in [0, 1000): pauses 100..2000 µs.
    for (let i = 0; i < 20; i++) s.add(epoch('vm', i * 50, { pauseUs: (i + 1) * 100, dirtyPages: i, precision: 0.5, recall: i < 10 ? 1 : null, overheadPct: 4 }));
    s.add(epoch('vm', 1000, { pauseUs: 1 }));
    const pts = s.points(0);
    expect(pts).toHaveLength(2);
    const b = pts[0]!;
    expect(b.t).toBe(0);
    expect(b.epochs).toBe(20);
    expect(b.epochRate).toBe(20);
    expect(b.dirty).toBeCloseTo(9.5);
    expect(b.pauseP50).toBe(1); // nearest rank: the 10th of 20
    expect(b.pauseP99).toBe(2);
    expect(b.pauseBand).toEqual([b.pauseP50, b.pauseP99]);
    expect(b.precision).toBe(50);
    expect(b.recall).toBe(100); // nulls are left out of the mean
    expect(b.overhead).toBe(4);
    expect(b.storeMiB).toBe(1);
    expect(b.lateMs).toBe(0);
    expect(pts[1]!.epochs).toBe(1);
  });

  it('sums how late the checkpoints of a bucket began', () => {
    const s = new BucketSeries(1000, 4);
    s.add(epoch('vm', 0, { lateUs: 250_000 }));
    s.add(epoch('vm', 500, { lateUs: 1_500 }));
    s.add(epoch('vm', 1000));
    const [first, second] = s.points(0);
    expect(first!.lateMs).toBe(251.5);
    expect(second!.lateMs).toBe(0);
  });

  it('reports null where no epoch had a value', () => {
    const s = new BucketSeries(1000, 4);
    s.add(epoch('vm', 10));
    const [p] = s.points(0);
    expect(p!.precision).toBeNull();
    expect(p!.overhead).toBeNull();
  });

  it('shows the open bucket as it fills, measured over its elapsed time', () => {
    const s = new BucketSeries(1000, 4);
    s.add(epoch('vm', 0));
    s.add(epoch('vm', 249));
    expect(s.points(0)[0]!.epochRate).toBe(8); // 2 epochs in 250 ms
    s.add(epoch('vm', 499, { dirtyPages: 400 }));
    const p = s.points(0)[0]!;
    expect(p.epochs).toBe(3);
    expect(p.dirty).toBe(200);
  });

  it('breaks the line across a gap with one empty row', () => {
    const s = new BucketSeries(1000, 10);
    s.add(epoch('vm', 0));
    s.add(epoch('vm', 5000));
    const pts = s.points(0);
    expect(pts.map((p) => p.t)).toEqual([0, 1000, 5000]);
    expect(pts[1]!.dirty).toBeNull();
    expect(pts[1]!.pauseBand).toBeNull();
  });

  it('returns only buckets inside the window and forgets the oldest past capacity', () => {
    const s = new BucketSeries(1000, 5);
    for (let t = 0; t < 10_000; t += 100) s.add(epoch('vm', t));
    expect(s.points(0).map((p) => p.t)).toEqual([5000, 6000, 7000, 8000, 9000]);
    expect(s.points(7500).map((p) => p.t)).toEqual([8000, 9000]);
  });

  it('counts late records towards the open bucket', () => {
    const s = new BucketSeries(1000, 5);
    s.add(epoch('vm', 2000));
    s.add(epoch('vm', 1500));
    expect(s.points(0)).toHaveLength(1);
    expect(s.points(0)[0]!.epochs).toBe(2);
  });

  it('keeps pause percentiles bounded past the sample reservoir', () => {
    const s = new BucketSeries(10_000, 2);
    for (let i = 0; i < 10_000; i++) s.add(epoch('vm', i, { pauseUs: (i % 100) * 1000 }));
    const p = s.points(0)[0]!;
    expect(p.epochs).toBe(10_000);
    expect(p.pauseP50!).toBeGreaterThan(35);
    expect(p.pauseP50!).toBeLessThan(65);
    expect(p.pauseP99!).toBeGreaterThanOrEqual(95);
  });
});

describe('VmSeries', () => {
  it('keeps a 1 s and a 10 s resolution and picks one per window', () => {
    const s = new VmSeries();
    for (let t = 0; t < 120_000; t += 50) s.add(epoch('vm', t));
    const now = 120_000;
    const fine = s.points('1m', now);
    const coarse = s.points('10m', now);
    expect(fine).toHaveLength(60);
    expect(fine[0]!.t).toBe(60_000);
    expect(coarse).toHaveLength(12);
    expect(coarse[0]!.epochRate).toBe(20);
    expect(s.latest?.time).toBe(119_950);
  });

  it('measures the epoch rate over recent epochs, and follows an interval change', () => {
    const s = new VmSeries();
    let t = 0;
    for (; t < 10_000; t += 50) s.add(epoch('vm', t));
    expect(s.epochRate(t)).toBeCloseTo(20, 0);
    for (const end = t + 10_000; t < end; t += 200) s.add(epoch('vm', t));
    expect(s.epochRate(t)).toBeCloseTo(5, 0);
    expect(s.epochRate(t + 60_000)).toBe(0);
  });

  it('estimates the rate from the span it holds when epochs outrun the ring', () => {
    const s = new VmSeries();
    let t = 0;
    for (; t < 5000; t += 1) s.add(epoch('vm', t)); // 1000/s, ring holds ~1 s
    expect(s.epochRate(t)).toBeGreaterThan(900);
    expect(s.epochRate(t)).toBeLessThan(1100);
  });
});
