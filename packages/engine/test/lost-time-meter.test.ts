import { describe, expect, it } from 'vitest';
import { LostTimeMeter } from '../src/agent/lost-time-meter.js';

describe('LostTimeMeter', () => {
  it('is the time lost per time run over the window, null until it spans 500 ms', () => {
    const meter = new LostTimeMeter(2000);
    // 50 ms epochs, each losing 2.5 ms of the guest's time: 2.5 / 47.5 = 5.26 %.
    for (let t = 0; t <= 400; t += 50) meter.observe(t, 2500);
    expect(meter.overheadPct).toBeNull();
    for (let t = 450; t <= 5000; t += 50) meter.observe(t, 2500);
    expect(meter.overheadPct).toBeCloseTo((2.5 / 47.5) * 100, 6);
  });

  it('forgets epochs older than its window, so a change shows within it', () => {
    const meter = new LostTimeMeter(1000);
    for (let t = 0; t <= 3000; t += 10) meter.observe(t, 5000); // half the time lost: 100 %
    expect(meter.overheadPct).toBeCloseTo(100, 6);
    for (let t = 3010; t <= 4100; t += 10) meter.observe(t, 0);
    expect(meter.overheadPct).toBe(0);
  });

  it('is never negative, and bounded when the guest lost (nearly) everything', () => {
    const meter = new LostTimeMeter();
    for (let t = 0; t <= 1000; t += 10) meter.observe(t, -50);
    expect(meter.overheadPct).toBe(0);
    meter.reset();
    for (let t = 0; t <= 1000; t += 10) meter.observe(t, 1e9);
    expect(meter.overheadPct).toBeCloseTo(9900, 6);
  });

  it('starts over when time goes back', () => {
    const meter = new LostTimeMeter();
    for (let t = 10_000; t <= 11_000; t += 10) meter.observe(t, 1000);
    meter.observe(0, 1000);
    expect(meter.overheadPct).toBeNull();
  });
});
