import type { EpochEvent } from '../src/api/types.ts';
import type { VmView } from '../src/api/types.ts';

export function epoch(vmId: string, time: number, over: Partial<EpochEvent> = {}): EpochEvent {
  return {
    type: 'epoch',
    vmId,
    time,
    seq: 1,
    mode: 'stop-and-copy',
    intervalMs: 50,
    dirtyPages: 100,
    pagesCopied: 100,
    pagesPrecopied: 0,
    pauseUs: 500,
    faults: 10,
    faultUs: 30,
    lateUs: 0,
    predicted: 0,
    truePositives: 0,
    falsePositives: 0,
    misses: 0,
    precision: null,
    recall: null,
    storeBytes: 1048576,
    checkpointsRetained: 8,
    progressRate: 1000,
    overheadPct: null,
    overheadCalibratedPct: null,
    coalesced: 0,
    ...over,
  };
}

export function vmView(id: string, over: Partial<VmView> = {}): VmView {
  return {
    id,
    name: id,
    backend: 'kvm',
    simulated: false,
    state: 'running',
    reason: null,
    createdAt: 1,
    spec: { name: id, backend: 'kvm', workload: 'graph', memoryMiB: 256, vcpus: 1, seed: 1, size: 0, param: 0, repeat: 0 },
    settings: { enabled: true, intervalMs: 50, retention: 8, mode: 'stop-and-copy', predictor: 'history', precopy: true, autoRecover: true, hangTimeoutMs: 2000, selfCheckLatencyMs: 1000, crashLatencyMs: 0, recurrenceWindowMs: 5000, autoTune: false, overheadBudgetPct: 3, errorRatePerHour: 0.01 },
    progress: { units: 0, runsDone: 0, lastChecksum: null, rate: 0 },
    calibratedRate: null,
    overheadPct: null,
    overheadCalibratedPct: null,
    lastCheckpointTime: null,
    checkpointsRetained: 0,
    storeBytes: 0,
    epochs: 0,
    ...over,
  };
}
