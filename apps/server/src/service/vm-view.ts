// What the API says about a VM: its definition, and its live status when its
// agent answers, or the last recorded state when it does not.
import type { AgentStatus, VmLiveStatus, VmView } from '@uckpt/engine';
import type { VmRecord } from '../store/index.js';

export type { VmView };

export function viewOf(record: VmRecord, status: AgentStatus | null): VmView {
  const definition = {
    id: record.id,
    name: record.spec.name,
    backend: record.spec.backend,
    createdAt: record.createdAt,
    spec: record.spec,
  };
  const live: VmLiveStatus = status
    ? {
        state: status.state,
        reason: status.reason,
        simulated: status.simulated,
        settings: status.settings,
        progress: status.progress,
        calibratedRate: status.calibratedRate,
        overheadPct: status.overheadPct,
        overheadCalibratedPct: status.overheadCalibratedPct,
        lastCheckpointTime: status.lastCheckpointTime,
        checkpointsRetained: status.checkpointsRetained,
        storeBytes: status.storeBytes,
        epochs: status.epochs,
      }
    : {
        // No agent to ask: what the store remembers.
        state: record.state,
        reason: record.reason,
        simulated: record.spec.backend === 'sim',
        settings: record.settings,
        progress: { units: 0, runsDone: 0, lastChecksum: null, rate: 0 },
        calibratedRate: null,
        overheadPct: null,
        overheadCalibratedPct: null,
        lastCheckpointTime: null,
        checkpointsRetained: 0,
        storeBytes: 0,
        epochs: 0,
      };
  return { ...definition, ...live };
}
