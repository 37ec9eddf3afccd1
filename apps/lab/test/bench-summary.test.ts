// How `uckpt bench` folds raw runs into rows, geometric means and sweep
// cells, on made-up runs: the no-precopy runs are compared, never mixed in.
import { describe, expect, it } from 'vitest';
import { floorSummary, geomeans, modeSummaries, summarise, sweepCells, type BenchRun } from '../src/bench/summary.js';

const pauseCell = { workingSetMiB: 768, pagesPerUnit: 250 };

function run(fields: Partial<BenchRun> & Pick<BenchRun, 'workload' | 'kind'>): BenchRun {
  const checkpointed = fields.kind !== 'off';
  return {
    on: 'kvm',
    seed: 1,
    checksum: '0123456789abcdef',
    runtimeMs: 1000,
    progressUnits: 100,
    progressRate: 100,
    mode: checkpointed ? 'stop-and-copy' : 'off',
    ...(checkpointed && { intervalMs: 50, predictor: 'cost', precopy: true }),
    epochs: checkpointed ? 20 : 0,
    lateMs: 0,
    pauseUs: { p50: 800, p99: 1700 },
    dirtyPagesPerEpoch: 5000,
    dirtyPagesP99: 6600,
    usualPauseUs: { p50: 800, p99: 1700 },
    rollbacks: 0,
    rollbackUs: { p50: 0, p99: 0 },
    pagesRestoredPerRollback: 0,
    storeBytesMax: 0,
    faultsPerEpoch: 5000,
    faultUsPerEpoch: 11000,
    leastTrackingUsPerEpoch: null,
    fixedPauseUs: 80,
    pagesCopiedPerEpoch: 350,
    pagesPrecopiedPerEpoch: 4650,
    lastError: null,
    warnings: [],
    precision: 0.5,
    recall: 0.5,
    coalescedEpochs: 0,
    repetition: 0,
    copyThreads: checkpointed ? 2 : null,
    rollbacksRequested: null,
    wallMs: 1000,
    requestedMode: checkpointed ? 'stop-and-copy' : null,
    sweep: null,
    capped: false,
    ...fields,
  };
}

describe('bench summary', () => {
  const runs = [
    run({ workload: 'sort', kind: 'off', runtimeMs: 1000 }),
    run({ workload: 'sort', kind: 'interval', runtimeMs: 1200 }),
    run({ workload: 'sort', kind: 'no-precopy', runtimeMs: 1250, pagesPrecopiedPerEpoch: 0, precopy: false }),
    run({ workload: 'dirtier', kind: 'off', runtimeMs: 2000, sweep: pauseCell }),
    run({ workload: 'dirtier', kind: 'interval', runtimeMs: 2100, sweep: pauseCell }),
    run({
      workload: 'dirtier',
      kind: 'no-precopy',
      runtimeMs: 2200,
      sweep: pauseCell,
      pauseUs: { p50: 3200, p99: 5500 },
      pagesPrecopiedPerEpoch: 0,
      precopy: false,
    }),
  ];
  const rows = summarise(runs);

  it('gives the run without copying ahead its own row, against the same unprotected run', () => {
    const sort = rows.filter((r) => r.workload === 'sort');
    expect(sort.map((r) => r.mode)).toEqual(['off', 's&c+cost', 's&c+cost no-precopy']);
    expect(sort[1]!.overheadPct).toBeCloseTo(20);
    expect(sort[2]!.overheadPct).toBeCloseTo(25);
  });

  it('keeps it out of the per-mode summary, and labels its own geometric mean', () => {
    expect(modeSummaries(rows, 50).map((s) => [s.label, s.overheadPct])).toEqual([['s&c+cost', expect.closeTo(20)]]);
    expect(geomeans(rows).map((g) => g.label)).toEqual([
      'stop-and-copy 50 ms, 2 copy threads, cost predictor',
      'stop-and-copy 50 ms, 2 copy threads, cost predictor, not copying ahead',
    ]);
  });

  it('shows a pause cell’s pauses both ways', () => {
    const [cell] = sweepCells(rows, 's&c+cost');
    expect(cell).toMatchObject({
      workingSetMiB: 768,
      pagesPerUnit: 250,
      pauseUs: { p50: 800, p99: 1700 },
      pauseWithoutPrecopyUs: { p50: 3200, p99: 5500 },
      best: 's&c+cost',
    });
    expect(cell!.overheads.map((o) => o.label)).toEqual(['s&c+cost', 's&c+cost no-precopy']);
  });

  it('puts the least tracking cost of the s&c+cost runs on top of the floor', () => {
    const costs = { copyNs: 400, copyNsCalibrated: 400, dirtyLogFaultNs: 2000, dirtyLogFaultNsCalibrated: 2000, cowFaultNs: 0, cowFaultNsCalibrated: 0 };
    const floored = summarise([
      run({ workload: 'sort', kind: 'off', runtimeMs: 1000 }),
      run({ workload: 'sort', kind: 'interval', predictor: 'off', costs, dirtyPagesPerEpoch: 4000, fixedPauseUs: 100 }),
      run({ workload: 'sort', kind: 'interval', costs, dirtyPagesPerEpoch: 5000, fixedPauseUs: 200, leastTrackingUsPerEpoch: 2500 }),
    ]);
    // (5,000 pages x 0.4 us + 0.1 ms) / 50 ms, then + 2.5 ms / 50 ms.
    expect(floored[1]).toMatchObject({ floorPct: expect.closeTo(4.2), trackingFloorPct: expect.closeTo(9.2) });
    expect(floorSummary(floored, 50)).toEqual({ floorPct: expect.closeTo(4.2), trackingFloorPct: expect.closeTo(9.2), workloads: 1 });
  });
});
