// What the API says about a VM: its definition, and its live status when its
// agent answers, or the last recorded state when it does not.
import type { AgentStatus, BackendName, CheckpointSettings, VmSpec, VmState } from '@uckpt/engine';
import type { VmRecord } from '../store/index.js';

export interface VmView {
  id: string;
  name: string;
  backend: BackendName;
  simulated: boolean;
  state: VmState;
  reason: string | null;
  createdAt: number;
  spec: VmSpec;
  settings: CheckpointSettings;
  progress: { units: number; runsDone: number; lastChecksum: string | null; rate: number };
  calibratedRate: number | null;
  overheadPct: number | null;
  lastCheckpointTime: number | null;
  checkpointsRetained: number;
  storeBytes: number;
  epochs: number;
}

export function viewOf(record: VmRecord, status: AgentStatus | null): VmView {
  const base = {
    id: record.id,
    name: record.spec.name,
    backend: record.spec.backend,
    simulated: record.spec.backend === 'sim',
    createdAt: record.createdAt,
    spec: record.spec,
  };
  if (!status) {
    return {
      ...base,
      state: record.state,
      reason: record.reason,
      settings: record.settings,
      progress: { units: 0, runsDone: 0, lastChecksum: null, rate: 0 },
      calibratedRate: null,
      overheadPct: null,
      lastCheckpointTime: null,
      checkpointsRetained: 0,
      storeBytes: 0,
      epochs: 0,
    };
  }
  return {
    ...base,
    simulated: status.simulated,
    state: status.state,
    reason: status.reason,
    settings: status.settings,
    progress: status.progress,
    calibratedRate: status.calibratedRate,
    overheadPct: status.overheadPct,
    lastCheckpointTime: status.lastCheckpointTime,
    checkpointsRetained: status.checkpointsRetained,
    storeBytes: status.storeBytes,
    epochs: status.epochs,
  };
}
