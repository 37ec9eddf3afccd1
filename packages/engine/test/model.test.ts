// The availability model: its linear solver against systems with known
// answers, the model against closed forms and first-order theory in the
// limits where they hold, its monotonicity, and the paper's result. Long:
// each property of the model is checked against its own reference here.
import { describe, expect, it } from 'vitest';
import {
  analyseAvailability,
  availabilityAt,
  checkAvailabilityParameters,
  checkpointCostMs,
  recoveryOutlook,
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
  type DetectorClass,
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
    // A mean so small that shape / mean overflows (found by the HTTP fuzz: a 500 for detectionLatencyMs=3e-323) is no latency, not NaN.
    expect(latencySurvival(1, 3e-323, 4)).toBe(0);
    expect(analyseAvailability({ ...defaultAvailabilityParameters, detectionLatencyMs: 3e-323 }, 3).availability).toBeGreaterThan(0.9);
  });

  it('corrupts no checkpoint without latency, and the closed-form share with exponential latency and no bound', () => {
    const base = { intervalMs: 20, checkpointCostMs: 1, retention: 8, errorRatePerMs: 0 };
    const detector = { latencyShape: 1, latencyBoundMs: 0 };
    expect(recoveryOutlook({ ...base, detector: { ...detector, detectionLatencyMs: 0 } })).toEqual({
      cleanFirst: 1, expectedDiscardedMs: 0, recurring: 0, expectedRecurrences: 0, exhausted: 0, expectedAttemptsWhenExhausted: 0,
    });
    // Error uniform in the interval, exponential latency L: P(a checkpoint comes first) = L/T (1 - e^(-T/L)).
    const latency = 15;
    const outlook = recoveryOutlook({ ...base, detector: { ...detector, detectionLatencyMs: latency } });
    expect(1 - outlook.cleanFirst).toBeCloseTo((latency / 20) * -Math.expm1(-20 / latency), 4);
    // Every further checkpoint needs another interval + cost of latency: memoryless, a geometric tail.
    const survivesCycle = Math.exp(-21 / latency);
    expect(outlook.exhausted / (1 - outlook.cleanFirst)).toBeCloseTo(survivesCycle ** 7, 4);
    // Without a bound every corrupt checkpoint is tried, newest first; the clean one costs nothing more.
    expect(outlook.expectedDiscardedMs).toBe(0);
    expect(outlook.cleanFirst + outlook.recurring + outlook.exhausted).toBeCloseTo(1, 12);
  });

  it('throws away the committed work back to the bound, however fast the detection', () => {
    // P = 21 ms; no latency, bound 45 ms: the newest checkpoint before detection - 45 ms is the 3rd
    // before the error when u <= 18 ms (2 cycles thrown away), the 4th when u > 18 ms (3 cycles).
    const base = { intervalMs: 20, checkpointCostMs: 1, retention: 8, errorRatePerMs: 0 };
    const outlook = recoveryOutlook({ ...base, detector: { detectionLatencyMs: 0, latencyShape: 1, latencyBoundMs: 45 } });
    expect(outlook.cleanFirst).toBe(1);
    expect(outlook.expectedDiscardedMs).toBeCloseTo(21 * (2 + 2 / 20), 9);
    // A history shorter than the bound: the oldest retained is taken (best effort), and is clean here.
    const short = recoveryOutlook({ ...base, retention: 2, detector: { detectionLatencyMs: 0, latencyShape: 1, latencyBoundMs: 45 } });
    expect(short.cleanFirst).toBe(1);
    expect(short.expectedDiscardedMs).toBeCloseTo(21, 9);
    // A bound that follows the latency never leaves the chosen checkpoint corrupt, however long the latency.
    const follows = recoveryOutlook({ ...base, retention: 22, detector: { detectionLatencyMs: 100, latencyShape: 1, latencyBoundMs: 110, boundFollowsLatency: true } });
    expect(follows.recurring).toBe(0);
    expect(follows.cleanFirst + follows.exhausted).toBeCloseTo(1, 12);
    // A latency that exceeds the bound leaves the chosen checkpoint corrupt: recurrences.
    const late = recoveryOutlook({ ...base, retention: 22, detector: { detectionLatencyMs: 100, latencyShape: 32, latencyBoundMs: 45 } });
    expect(late.recurring).toBeGreaterThan(0.98);
    // About (100 - 45) / 21 corrupt checkpoints between the bound's and the error.
    expect(late.expectedRecurrences / late.recurring).toBeGreaterThan(2);
    expect(late.expectedRecurrences / late.recurring).toBeLessThan(3.5);
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
      const p = params({ errorRatePerHour, intervalMs, rollbackMs, detectionLatencyMs: 0, latencyBoundMs: 0, coverage: 1 });
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

  it('charges masked errors nothing: the same as only the errors with an effect', () => {
    for (const maskedFraction of [0.25, 0.9]) {
      const masked = params({ errorRatePerHour: 400, maskedFraction, intervalMs: 50, detectionLatencyMs: 20 });
      const effective = params({ errorRatePerHour: 400 * (1 - maskedFraction), intervalMs: 50, detectionLatencyMs: 20 });
      expect(solveProtectedVm(masked).availability).toBeCloseTo(solveProtectedVm(effective).availability, 14);
      expect(solveUnprotectedVm(masked)).toBeCloseTo(solveUnprotectedVm(effective), 14);
    }
    expect(solveProtectedVm(params({ errorRatePerHour: 400, maskedFraction: 1 })).availability).toBeCloseTo(solveProtectedVm(params({ errorRatePerHour: 0 })).availability, 14);
  });

  it('with detectors alike, is the model of one; a mixture lies between its detectors alone', () => {
    const p = params({ errorRatePerHour: 600, intervalMs: 50, detectionLatencyMs: 200, latencyShape: 2, latencyBoundMs: 300 });
    const one: DetectorClass = { share: 1, detectionLatencyMs: 200, latencyShape: 2, latencyBoundMs: 300 };
    expect(solveProtectedVm(p, [{ ...one, share: 0.3 }, { ...one, share: 0.7 }]).availability).toBeCloseTo(solveProtectedVm(p).availability, 12);
    const crash: DetectorClass = { share: 1, detectionLatencyMs: 1, latencyShape: 32, latencyBoundMs: 0 };
    const selfCheck: DetectorClass = { share: 1, detectionLatencyMs: 5, latencyShape: 1, latencyBoundMs: 1000 };
    const mixed = solveProtectedVm(p, [{ ...crash, share: 0.5 }, { ...selfCheck, share: 0.5 }]).availability;
    expect(mixed).toBeLessThan(solveProtectedVm(p, [crash]).availability);
    expect(mixed).toBeGreaterThan(solveProtectedVm(p, [selfCheck]).availability);
  });

  it("finds the Young/Daly optimum sqrt(2 C MTBF) where first-order theory holds", () => {
    // C << T << MTBF: a fixed 10 ms checkpoint, an error every 6 minutes.
    const p = params({
      errorRatePerHour: 10,
      checkpointOverheadMs: 10,
      dirtyPagesPerSecond: 0,
      detectionLatencyMs: 0,
      latencyBoundMs: 0,
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
 * event by event under the engine's recovery policy (a deterministic
 * interval, sampled errors, detectors and Erlang latencies; the rollback to
 * the newest checkpoint before detection - the bound, then one older per
 * recurrence) and measure the share of time spent on work that is kept.
 */
function simulateAvailability(p: AvailabilityParameters, errors: number, seed: number, detectors?: DetectorClass[]): number {
  const next = random(seed);
  const classes = detectors ?? [{ share: 1, detectionLatencyMs: p.detectionLatencyMs, latencyShape: p.latencyShape, latencyBoundMs: p.latencyBoundMs }];
  const exponential = (mean: number) => -mean * Math.log(1 - next());
  const latency = (d: DetectorClass) => {
    let sum = 0;
    for (let phase = 0; phase < d.latencyShape; phase++) sum += exponential(d.detectionLatencyMs / d.latencyShape);
    return sum;
  };
  const pick = () => {
    let x = next();
    for (const d of classes) if ((x -= d.share) < 0) return d;
    return classes.at(-1)!;
  };
  const interval = p.intervalMs;
  const cost = checkpointCostMs(p, interval);
  const cycle = interval + cost;
  const meanBetweenErrors = 3_600_000 / p.errorRatePerHour;
  const repair = p.repairSeconds * 1000;
  const K = p.retention;
  let useful = 0;
  let elapsed = 0;
  for (let seen = 0; seen < errors; ) {
    const untilError = exponential(meanBetweenErrors);
    if (untilError >= interval) {
      useful += interval;
      elapsed += interval + cost;
      continue;
    }
    elapsed += untilError;
    if (next() < p.maskedFraction) {
      // Nothing happened: the rest of the interval and its checkpoint, as if no error.
      useful += interval;
      elapsed += interval - untilError + cost;
      continue;
    }
    seen++;
    if (next() >= p.coverage) {
      elapsed += repair;
      continue;
    }
    const detector = pick();
    const detectedAfter = latency(detector);
    elapsed += detectedAfter + p.rollbackMs;
    // Checkpoints after the error come at u + mP (m >= 0), before it at u - mP (m >= 1); newest first by index.
    const u = interval - untilError;
    const corrupted = detectedAfter < u ? 0 : 1 + Math.floor((detectedAfter - u) / cycle);
    // (detection - bound) - error: a bound that follows the latency keeps its mean margin over it.
    const reach = detector.boundFollowsLatency ? detector.detectionLatencyMs - detector.latencyBoundMs : detectedAfter - detector.latencyBoundMs;
    const chosen = Math.min(corrupted - 1 - Math.floor((reach - u) / cycle), K - 1);
    if (corrupted >= K) {
      // Every retained checkpoint holds it: tried from the chosen one to the oldest, each recurring.
      const attempts = K - chosen;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        elapsed += latency(detector);
        if (attempt < attempts) elapsed += p.rollbackMs;
      }
      elapsed += repair;
    } else if (chosen >= corrupted) {
      // Clean: the committed work since the chosen checkpoint is done again.
      elapsed += (chosen - corrupted) * cycle;
    } else {
      for (let attempt = chosen; attempt < corrupted; attempt++) elapsed += latency(detector) + p.rollbackMs;
    }
  }
  return useful / elapsed;
}

describe('the model against a simulation', () => {
  // Errors every few seconds so that a simulation converges quickly; latency
  // long against the interval so that every path of the chain is taken.
  const cases: [string, Partial<AvailabilityParameters>, DetectorClass[]?][] = [
    ['exponential latency, no bound, short retention', { latencyShape: 1, latencyBoundMs: 0, retention: 2 }],
    ['Erlang latency, no bound', { latencyShape: 4, latencyBoundMs: 0, retention: 3 }],
    ['no latency, a bound of three intervals', { detectionLatencyMs: 0, latencyBoundMs: 300 }],
    ['exponential latency against a bound of its mean', { latencyShape: 1, latencyBoundMs: 150, retention: 6 }],
    ['Erlang latency within a bound, masked errors', { latencyShape: 8, latencyBoundMs: 400, maskedFraction: 0.3 }],
    ['three detectors', { retention: 14 }, [
      { share: 0.3, detectionLatencyMs: 1, latencyShape: 32, latencyBoundMs: 0 },
      { share: 0.4, detectionLatencyMs: 5, latencyShape: 1, latencyBoundMs: 1000 },
      { share: 0.3, detectionLatencyMs: 600, latencyShape: 16, latencyBoundMs: 750, boundFollowsLatency: true },
    ]],
    ['a bound that follows the latency', { latencyShape: 2, detectionLatencyMs: 300, retention: 8 }, [
      { share: 1, detectionLatencyMs: 300, latencyShape: 2, latencyBoundMs: 420, boundFollowsLatency: true },
    ]],
  ];
  for (const [what, overrides, detectors] of cases) {
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
      const model = solveProtectedVm(p, detectors).availability;
      const simulated = simulateAvailability(p, 200_000, 11, detectors);
      expect(Math.abs(model - simulated) / model).toBeLessThan(0.002);
    });
  }
});

describe('monotonicity', () => {
  // Latency long against the interval, so several checkpoints are corrupted and retention matters.
  const latent = params({ intervalMs: 20, detectionLatencyMs: 150, errorRatePerHour: 5 });

  it('more retention never lowers availability once it covers the bound', () => {
    // No bound (every corrupt checkpoint tried), and a bound of 100 ms (covered from 100 / 20 + 2 = 7 checkpoints).
    for (const [latencyBoundMs, covering] of [[0, 1], [100, 7]] as const) {
      const at = (retention: number) => solveProtectedVm({ ...latent, latencyBoundMs, retention }).availability;
      let previous = 0;
      for (let retention = covering; retention <= 40; retention++) {
        expect(at(retention)).toBeGreaterThanOrEqual(previous - 1e-15);
        previous = at(retention);
      }
      expect(at(40)).toBeGreaterThan(at(1));
    }
  });

  it('a bound near the latency skips the corrupt checkpoints; past it, a longer bound only throws work away', () => {
    const at = (latencyBoundMs: number) => solveProtectedVm({ ...latent, retention: 400, latencyShape: 4, latencyBoundMs }).availability;
    // Latency 150 ms against 20 ms intervals: without a bound, about seven corrupt checkpoints are tried, each for L + R.
    expect(at(200)).toBeGreaterThan(at(0));
    let previous = 1;
    for (const latencyBoundMs of [500, 1000, 2000, 5000]) {
      expect(at(latencyBoundMs)).toBeLessThanOrEqual(previous + 1e-15);
      previous = at(latencyBoundMs);
    }
  });

  it('longer detection latency never raises availability', () => {
    for (const latencyShape of [1, 4]) {
      let previous = 1;
      for (const detectionLatencyMs of [0, 1, 5, 10, 20, 50, 100, 200, 500, 1000, 5000]) {
        const availability = solveProtectedVm({ ...latent, latencyShape, detectionLatencyMs, latencyBoundMs: 0 }).availability;
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
    expect(() => checkAvailabilityParameters(params({ maskedFraction: -0.1 }))).toThrow(/maskedFraction/);
    expect(() => checkAvailabilityParameters(params({ latencyBoundMs: Number.POSITIVE_INFINITY }))).toThrow(/latencyBoundMs/);
    const detector: DetectorClass = { share: 0.5, detectionLatencyMs: 10, latencyShape: 1, latencyBoundMs: 100 };
    expect(() => analyseAvailability(params(), 3, [detector])).toThrow(/shares must sum to 1/);
    expect(() => analyseAvailability(params(), 3, [detector, { ...detector, latencyShape: 0 }])).toThrow(/detectors\[1\]\.latencyShape/);
    expect(() => analyseAvailability(params(), 3, [])).toThrow(/at least one/);
    expect(() => analyseAvailability(params(), 3, [{ ...detector, share: 1, latencyBoundMs: 5, boundFollowsLatency: true }])).toThrow(/covers it/);
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
    // The engine's 1 s bound throws away a second of work per detected error: invisible at this rate.
    const bounded = analyseAvailability(params({ intervalMs: analysis.recommendedIntervalMs!, latencyBoundMs: 1000 }));
    expect(bounded.availability).toBeGreaterThan(0.9997);
    expect(bounded.occupancy.reExecuting).toBeGreaterThan(0);
    expect(bounded.occupancy.reExecuting).toBeLessThan(1e-5);
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
