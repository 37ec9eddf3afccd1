// The availability model: its linear solver against systems with known
// answers, the model against closed forms and first-order theory in the
// limits where they hold, its monotonicity, and the paper's result.
import { describe, expect, it } from 'vitest';
import {
  analyseAvailability,
  availabilityAt,
  checkAvailabilityParameters,
  checkpointCostMs,
  corruptionOutlook,
  defaultAvailabilityParameters,
  latencySurvival,
  overheadPct,
  pagesDirtiedPerInterval,
  parametersFromMeasurements,
  checkpointCost,
  detectionFromInjections,
  erlangShape,
  writeRateWithin,
  recommendInterval,
  solveLinearSystem,
  solveProtectedVm,
  solveRenewalChain,
  solveUnprotectedVm,
  stationaryDistribution,
  workingSetCovering,
  type AvailabilityParameters,
} from '../src/index.js';

const multiply = (matrix: number[][], x: number[]) => matrix.map((row) => row.reduce((sum, value, i) => sum + value * x[i]!, 0));

/** A deterministic pseudo-random sequence in [0, 1) (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe('linear solver', () => {
  it('solves a system whose first pivot is zero', () => {
    const x = solveLinearSystem(
      [
        [0, 2, 1],
        [1, 1, 1],
        [2, 1, 0],
      ],
      [7, 6, 4],
    );
    expect(x[0]).toBeCloseTo(1, 12);
    expect(x[1]).toBeCloseTo(2, 12);
    expect(x[2]).toBeCloseTo(3, 12);
  });

  it('leaves a tiny residual on random well-conditioned systems and does not modify its input', () => {
    const next = random(7);
    for (const n of [1, 2, 5, 12, 30]) {
      const matrix = Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => next() - 0.5 + (r === c ? n : 0)));
      const b = Array.from({ length: n }, () => next() * 10);
      const copy = matrix.map((row) => [...row]);
      const x = solveLinearSystem(matrix, b);
      multiply(matrix, x).forEach((value, i) => expect(value).toBeCloseTo(b[i]!, 10));
      expect(matrix).toEqual(copy);
    }
  });

  it('refuses singular and misshapen systems', () => {
    expect(() => solveLinearSystem([[1, 2], [2, 4]], [1, 2])).toThrow(/singular/);
    expect(() => solveLinearSystem([[0, 0], [0, 0]], [0, 0])).toThrow(/singular/);
    expect(() => solveLinearSystem([[1, 2]], [1])).toThrow(RangeError);
  });

  it('gives the stationary distribution of a two-state chain', () => {
    const [up, down] = stationaryDistribution([
      [-0.01, 0.01],
      [2, -2],
    ]);
    expect(up).toBeCloseTo(2 / 2.01, 14);
    expect(down).toBeCloseTo(0.01 / 2.01, 14);
  });

  it('gives the M/M/1/K queue its truncated geometric distribution', () => {
    const [arrival, service, capacity] = [3, 5, 6];
    const generator = Array.from({ length: capacity + 1 }, (_, i) => {
      const row = new Array<number>(capacity + 1).fill(0);
      if (i < capacity) row[i + 1] = arrival;
      if (i > 0) row[i - 1] = service;
      row[i] = -row.reduce((a, b) => a + b, 0);
      return row;
    });
    const rho = arrival / service;
    const normaliser = (1 - rho ** (capacity + 1)) / (1 - rho);
    stationaryDistribution(generator).forEach((p, i) => expect(p).toBeCloseTo(rho ** i / normaliser, 13));
  });
});

describe('renewal chain', () => {
  it('equals the CTMC with rates probability / mean sojourn', () => {
    const means = { a: 2, b: 0.5, c: 10 };
    const chain = {
      states: ['a', 'b', 'c'] as const,
      meanSojourn: means,
      next: { a: { b: 0.7, c: 0.3 }, b: { a: 1 }, c: { a: 0.5, b: 0.5 } },
    };
    const { occupancy } = solveRenewalChain(chain);
    const generator = chain.states.map((from) =>
      chain.states.map((to) => (from === to ? -1 / means[from] : ((chain.next[from] as Record<string, number>)[to] ?? 0) / means[from])),
    );
    const expected = stationaryDistribution(generator);
    chain.states.forEach((state, i) => expect(occupancy[state]).toBeCloseTo(expected[i]!, 13));
  });

  it('passes through instantaneous states and refuses probabilities that do not sum to 1', () => {
    const { occupancy, visitRate } = solveRenewalChain({
      states: ['up', 'blink', 'down'],
      meanSojourn: { up: 9, blink: 0, down: 1 },
      next: { up: { blink: 1 }, blink: { down: 1 }, down: { up: 1 } },
    });
    expect(occupancy.up).toBeCloseTo(0.9, 14);
    expect(occupancy.blink).toBe(0);
    expect(visitRate.blink).toBeCloseTo(0.1, 14);
    expect(() =>
      solveRenewalChain({ states: ['x', 'y'], meanSojourn: { x: 1, y: 1 }, next: { x: { y: 0.5 }, y: { x: 1 } } }),
    ).toThrow(/sum to 0.5/);
  });
});

describe('detection latency', () => {
  it('has the stated mean for every shape', () => {
    for (const shape of [1, 2, 4, 16]) {
      // The mean of a non-negative variable is the integral of its survival function.
      const step = 0.05;
      let integral = 0;
      for (let x = step / 2; x < 2000; x += step) integral += latencySurvival(x, 100, shape) * step;
      expect(integral).toBeCloseTo(100, 3);
    }
    expect(latencySurvival(50, 100, 1)).toBeCloseTo(Math.exp(-0.5), 14);
    expect(latencySurvival(1, 0, 4)).toBe(0);
  });

  it('corrupts no checkpoint without latency, and the closed-form share with exponential latency', () => {
    const base = { intervalMs: 20, checkpointCostMs: 1, retention: 8, latencyShape: 1, errorRatePerMs: 0 };
    expect(corruptionOutlook({ ...base, detectionLatencyMs: 0 })).toEqual({ noneCorrupted: 1, allCorrupted: 0, expectedCorruptedWhenRecoverable: 0 });
    // Error uniform in the interval, exponential latency L: P(a checkpoint comes first) = L/T (1 - e^(-T/L)).
    const latency = 15;
    const outlook = corruptionOutlook({ ...base, detectionLatencyMs: latency });
    expect(1 - outlook.noneCorrupted).toBeCloseTo((latency / 20) * -Math.expm1(-20 / latency), 4);
    // Every further checkpoint needs another interval + cost of latency: memoryless, a geometric tail.
    const survivesCycle = Math.exp(-21 / latency);
    expect(outlook.allCorrupted / (1 - outlook.noneCorrupted)).toBeCloseTo(survivesCycle ** 7, 4);
  });
});

const params = (overrides: Partial<AvailabilityParameters> = {}): AvailabilityParameters => ({ ...defaultAvailabilityParameters, ...overrides });

describe('the model in its limits', () => {
  it('without errors, availability is 1 - the share of time spent checkpointing', () => {
    for (const intervalMs of [1, 7, 50, 400, 10_000]) {
      const p = params({ errorRatePerHour: 0, intervalMs });
      const cost = checkpointCostMs(p, intervalMs);
      expect(solveProtectedVm(p).availability).toBeCloseTo(1 - cost / (intervalMs + cost), 14);
    }
    expect(solveUnprotectedVm(params({ errorRatePerHour: 0 }))).toBe(1);
  });

  it('with instant detection and full coverage, agrees with the renewal closed form', () => {
    // Per interval: committed with P(no error) = e^(-lambda T); otherwise the
    // time to the error is lost and a rollback follows.
    for (const [errorRatePerHour, intervalMs, rollbackMs] of [[0.5, 50, 10], [60, 1000, 200], [600, 5000, 1000]] as const) {
      const p = params({ errorRatePerHour, intervalMs, rollbackMs, detectionLatencyMs: 0, coverage: 1 });
      const lambda = errorRatePerHour / 3_600_000;
      const survives = Math.exp(-lambda * intervalMs);
      const cycle = -Math.expm1(-lambda * intervalMs) / lambda + survives * checkpointCostMs(p, intervalMs) + (1 - survives) * rollbackMs;
      expect(solveProtectedVm(p).availability).toBeCloseTo((intervalMs * survives) / cycle, 9);
    }
  });

  it('unprotected, availability is MTBF / (MTBF + MTTR)', () => {
    const p = params({ errorRatePerHour: 2, repairSeconds: 900 });
    expect(solveUnprotectedVm(p)).toBeCloseTo(1800 / (1800 + 900), 14);
  });

  it("finds the Young/Daly optimum sqrt(2 C MTBF) where first-order theory holds", () => {
    // C << T << MTBF: a fixed 10 ms checkpoint, an error every 6 minutes.
    const p = params({
      errorRatePerHour: 10,
      checkpointOverheadMs: 10,
      dirtyPagesPerSecond: 0,
      detectionLatencyMs: 0,
      coverage: 1,
      rollbackMs: 0,
    });
    const young = Math.sqrt(2 * 10 * 360_000);
    const best = recommendInterval(p, 100);
    expect(best).not.toBeNull();
    expect(Math.abs(best! - young) / young).toBeLessThan(0.03);
  });
});

/**
 * An independent check of the model's reduction: simulate the protected VM
 * event by event (a deterministic interval, sampled errors and Erlang
 * latencies, corrupted checkpoints counted one by one) and measure the
 * share of time spent on work that is kept.
 */
function simulateAvailability(p: AvailabilityParameters, errors: number, seed: number): number {
  const next = random(seed);
  const exponential = (mean: number) => -mean * Math.log(1 - next());
  const latency = () => {
    let sum = 0;
    for (let phase = 0; phase < p.latencyShape; phase++) sum += exponential(p.detectionLatencyMs / p.latencyShape);
    return sum;
  };
  const interval = p.intervalMs;
  const cost = checkpointCostMs(p, interval);
  const meanBetweenErrors = 3_600_000 / p.errorRatePerHour;
  const repair = p.repairSeconds * 1000;
  let useful = 0;
  let elapsed = 0;
  for (let seen = 0; seen < errors; ) {
    const untilError = exponential(meanBetweenErrors);
    if (untilError >= interval) {
      useful += interval;
      elapsed += interval + cost;
      continue;
    }
    seen++;
    elapsed += untilError;
    if (next() >= p.coverage) {
      elapsed += repair;
      continue;
    }
    const detectedAfter = latency();
    elapsed += detectedAfter;
    // Checkpoints taken while the error was latent: the first at the interval's end, then one per cycle.
    const firstCheckpoint = interval - untilError;
    const corrupted = detectedAfter < firstCheckpoint ? 0 : 1 + Math.floor((detectedAfter - firstCheckpoint) / (interval + cost));
    const attempts = Math.min(corrupted, p.retention);
    elapsed += p.rollbackMs;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      elapsed += latency();
      if (attempt < p.retention) elapsed += p.rollbackMs;
    }
    if (corrupted >= p.retention) elapsed += repair;
  }
  return useful / elapsed;
}

describe('the model against a simulation', () => {
  // Errors every few seconds so that a simulation converges quickly; latency
  // long against the interval so that every path of the chain is taken.
  const cases: [string, Partial<AvailabilityParameters>][] = [
    ['exponential latency, short retention', { latencyShape: 1, retention: 2 }],
    ['Erlang latency', { latencyShape: 4, retention: 3 }],
    ['no latency', { detectionLatencyMs: 0 }],
  ];
  for (const [what, overrides] of cases) {
    it(`agrees within 0.2% with ${what}`, () => {
      const p = params({
        errorRatePerHour: 1200,
        intervalMs: 100,
        checkpointOverheadMs: 5,
        detectionLatencyMs: 150,
        rollbackMs: 20,
        repairSeconds: 2,
        coverage: 0.9,
        ...overrides,
      });
      const model = solveProtectedVm(p).availability;
      const simulated = simulateAvailability(p, 200_000, 11);
      expect(Math.abs(model - simulated) / model).toBeLessThan(0.002);
    });
  }
});

describe('monotonicity', () => {
  // Latency long against the interval, so several checkpoints are corrupted and retention matters.
  const latent = params({ intervalMs: 20, detectionLatencyMs: 150, errorRatePerHour: 5 });

  it('more retention never lowers availability', () => {
    let previous = 0;
    for (let retention = 1; retention <= 40; retention++) {
      const availability = solveProtectedVm({ ...latent, retention }).availability;
      expect(availability).toBeGreaterThanOrEqual(previous - 1e-15);
      previous = availability;
    }
    expect(solveProtectedVm({ ...latent, retention: 40 }).availability).toBeGreaterThan(solveProtectedVm({ ...latent, retention: 1 }).availability);
  });

  it('longer detection latency never raises availability', () => {
    for (const latencyShape of [1, 4]) {
      let previous = 1;
      for (const detectionLatencyMs of [0, 1, 5, 10, 20, 50, 100, 200, 500, 1000, 5000]) {
        const availability = solveProtectedVm({ ...latent, latencyShape, detectionLatencyMs }).availability;
        expect(availability).toBeLessThanOrEqual(previous + 1e-15);
        previous = availability;
      }
    }
  });

  it('more coverage never lowers availability, more errors never raise it', () => {
    let previous = 0;
    for (const coverage of [0, 0.5, 0.9, 0.99, 1]) {
      const availability = solveProtectedVm({ ...latent, coverage }).availability;
      expect(availability).toBeGreaterThanOrEqual(previous);
      previous = availability;
    }
    previous = 1;
    for (const errorRatePerHour of [0, 0.1, 1, 10, 100]) {
      const availability = solveProtectedVm({ ...latent, errorRatePerHour }).availability;
      expect(availability).toBeLessThanOrEqual(previous);
      previous = availability;
    }
  });
});

describe('recommendation and analysis', () => {
  it('stays within the overhead budget, and says when no interval can', () => {
    const heavy = params({ dirtyPagesPerSecond: 200_000, workingSetPages: 20_000, copyUsPerPage: 2 });
    for (const budget of [1, 3, 10]) {
      const best = recommendInterval(heavy, budget);
      expect(best).not.toBeNull();
      expect(overheadPct(heavy, best!)).toBeLessThanOrEqual(budget);
      // Nothing within the budget on the curve does better.
      for (const intervalMs of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000]) {
        if (overheadPct(heavy, intervalMs) <= budget) expect(availabilityAt(heavy, intervalMs)).toBeLessThanOrEqual(availabilityAt(heavy, best!) + 1e-12);
      }
    }
    // Pages dirtied without bound: the copy alone costs 40% whatever the interval.
    expect(recommendInterval(params({ dirtyPagesPerSecond: 200_000, workingSetPages: 0, copyUsPerPage: 2 }), 3)).toBeNull();
  });

  it('refuses parameters outside their ranges', () => {
    expect(() => checkAvailabilityParameters(params({ coverage: 1.5 }))).toThrow(/coverage/);
    expect(() => checkAvailabilityParameters(params({ retention: 2.5 }))).toThrow(/retention must be an integer/);
    expect(() => checkAvailabilityParameters(params({ intervalMs: Number.NaN }))).toThrow(/intervalMs/);
    expect(() => analyseAvailability(params(), 0)).toThrow(/overheadBudgetPct/);
  });

  it("reproduces the paper's shape: about 99% unprotected, about 99.98% protected", () => {
    // One error per 100 hours, an hour to repair, 99% of errors detected
    // within ~100 ms; the VM checkpointed at the recommended interval.
    const analysis = analyseAvailability(defaultAvailabilityParameters);
    expect(analysis.unprotectedAvailability).toBeCloseTo(0.99, 3);
    expect(analysis.recommendedIntervalMs).not.toBeNull();
    const atBest = analyseAvailability(params({ intervalMs: analysis.recommendedIntervalMs! }));
    expect(atBest.availability).toBeGreaterThan(0.9997);
    expect(atBest.availability).toBeLessThan(0.9999);
    expect(atBest.downtimeSecondsPerYear).toBeLessThan(0.0003 * 365.25 * 86_400);
    // Coverage dominates what is left: the undetected errors' repairs.
    expect(atBest.occupancy.failed).toBeCloseTo(0.0001, 5);
  });

  it('answers a curve over the whole interval range, in order, with the occupancy summing to 1', () => {
    const analysis = analyseAvailability(params());
    expect(analysis.curve[0]!.intervalMs).toBe(1);
    expect(analysis.curve.at(-1)!.intervalMs).toBe(10_000);
    for (let i = 1; i < analysis.curve.length; i++) expect(analysis.curve[i]!.intervalMs).toBeGreaterThan(analysis.curve[i - 1]!.intervalMs);
    const total = Object.values(analysis.occupancy).reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1, 12);
  });
});

describe('parameters from measurements', () => {
  it('takes the median rollback, the epoch-weighted write rate and the largest epoch', () => {
    const measured = parametersFromMeasurements({
      windows: [
        { epochs: 1200, intervalMs: 50, dirtyPagesMean: 100, dirtyPagesMax: 180 },
        { epochs: 600, intervalMs: 100, dirtyPagesMean: 500, dirtyPagesMax: 700.5 },
        { epochs: 0, intervalMs: 100, dirtyPagesMean: 0, dirtyPagesMax: 0 },
      ],
      rollbackDurationsUs: [900, 1100, 250_000, 1000],
    });
    expect(measured.rollbackMs).toBeCloseTo(1.05, 12);
    expect(measured.dirtyPagesPerSecond).toBeCloseTo((1200 * 2000 + 600 * 5000) / 1800, 9);
    expect(measured.workingSetPagesAtLeast).toBe(701);
  });

  it('splits the checkpoint cost into fixed and per-page parts when dirty counts differ', () => {
    // 300 us + 2 us per page, faults included, exactly on a line.
    const window = (pages: number, epochs: number, faultUsPerEpoch: number) => ({
      epochs, intervalMs: 50, dirtyPagesMean: pages, dirtyPagesMax: pages,
      pauseUsP50: 300 + 2 * pages - faultUsPerEpoch, faults: epochs, faultUs: faultUsPerEpoch * epochs,
    });
    const cost = checkpointCost([window(100, 1200, 50), window(1000, 600, 400), window(400, 900, 0)]);
    expect(cost.checkpointOverheadMs).toBeCloseTo(0.3, 9);
    expect(cost.copyUsPerPage).toBeCloseTo(2, 9);
  });

  it('charges the whole checkpoint cost per page when the dirty count hardly varies, never negative', () => {
    const steady = checkpointCost([
      { epochs: 100, intervalMs: 50, dirtyPagesMean: 1000, dirtyPagesMax: 1100, pauseUsP50: 3000 },
      { epochs: 100, intervalMs: 50, dirtyPagesMean: 1100, dirtyPagesMax: 1200, pauseUsP50: 3400 },
    ]);
    expect(steady.checkpointOverheadMs).toBe(0);
    expect(steady.copyUsPerPage).toBeCloseTo(6400 / 2100, 9);
    // Cost falling with more pages (noise): the fit would give a negative slope; it stays >= 0.
    const noisy = checkpointCost([
      { epochs: 10, intervalMs: 50, dirtyPagesMean: 100, dirtyPagesMax: 100, pauseUsP50: 900 },
      { epochs: 10, intervalMs: 50, dirtyPagesMean: 1000, dirtyPagesMax: 1000, pauseUsP50: 500 },
    ]);
    expect(noisy.copyUsPerPage).toBe(0);
    expect(noisy.checkpointOverheadMs).toBeCloseTo(0.7, 9);
    expect(checkpointCost([{ epochs: 10, intervalMs: 50, dirtyPagesMean: 100, dirtyPagesMax: 100 }])).toEqual({});
  });

  it('finds the write rate that reproduces the distinct pages measured, within a bounded working set', () => {
    const parameters = { ...defaultAvailabilityParameters, workingSetPages: 1000, dirtyPagesPerSecond: 10_000 };
    const distinct = pagesDirtiedPerInterval(parameters, 50); // 393.5 of 500 writes land on distinct pages
    const rate = writeRateWithin([{ epochs: 10, intervalMs: 50, dirtyPagesMean: distinct, dirtyPagesMax: distinct }], 1000);
    expect(rate).toBeCloseTo(10_000, 6);
    expect(pagesDirtiedPerInterval({ ...parameters, dirtyPagesPerSecond: rate! }, 50)).toBeCloseTo(distinct, 9);
    // Saturated: every page of the working set, every epoch; the rate stays finite.
    expect(Number.isFinite(writeRateWithin([{ epochs: 1, intervalMs: 50, dirtyPagesMean: 1000, dirtyPagesMax: 1000 }], 1000))).toBe(true);
    expect(writeRateWithin([], 1000)).toBeUndefined();
    expect(writeRateWithin([{ epochs: 1, intervalMs: 50, dirtyPagesMean: 10, dirtyPagesMax: 10 }], 0)).toBeUndefined();
  });

  it('claims nothing without measurements', () => {
    expect(parametersFromMeasurements({ windows: [], rollbackDurationsUs: [] })).toEqual({});
  });

  it('only ever raises a bounded working set to what was seen', () => {
    expect(workingSetCovering(1024, 5000)).toBe(5000);
    expect(workingSetCovering(8192, 5000)).toBe(8192);
    expect(workingSetCovering(0, 5000)).toBe(0);
  });
});

describe('detection from injected faults', () => {
  const now = 100_000;
  const detected = (latencyMs: number, kind = 'crash') => ({ time: now - 10_000, kind, status: 'detected' as const, detectionLatencyMs: latencyMs });

  it('gives coverage and latency only once five faults are settled, and leaves out corrupted checkpoints', () => {
    const four = [detected(10), detected(20), detected(30), detected(40)];
    expect(detectionFromInjections(four, now, 1000)).toEqual({});
    // A checkpoint page is not an error of the VM: still four.
    expect(detectionFromInjections([...four, detected(0, 'checkpoint-page')], now, 1000)).toEqual({});
    const five = detectionFromInjections([...four, { time: now - 5000, kind: 'bit-flip', status: 'undetected' }], now, 1000);
    expect(five.coverage).toBeCloseTo(4 / 5, 12);
    // Four latencies are too few for the latency.
    expect(five.detectionLatencyMs).toBeUndefined();
    const latencies = detectionFromInjections([...four, detected(50)], now, 1000);
    expect(latencies).toMatchObject({ coverage: 1, detectionLatencyMs: 30 });
  });

  it('counts a pending fault as missed only once it is overdue', () => {
    const five = [detected(10), detected(20), detected(30), detected(40), detected(50)];
    const recent = { time: now - 500, kind: 'hang', status: 'pending' as const };
    expect(detectionFromInjections([...five, recent], now, 1000).coverage).toBe(1);
    expect(detectionFromInjections([...five, recent], now + 600, 1000).coverage).toBeCloseTo(5 / 6, 12);
  });

  it('reads the Erlang shape from the spread', () => {
    // Exponential-like spread (standard deviation = mean) is shape 1; tight latencies a high shape.
    expect(erlangShape([0, 200])).toBe(1);
    expect(erlangShape([95, 100, 105])).toBe(32);
    expect(erlangShape([100, 100])).toBe(32);
    expect(erlangShape([50, 100, 150])).toBe(4);
  });
});
