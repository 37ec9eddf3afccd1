export * from './config.js';
export * from './errors.js';
export * from './faults.js';
export type * from './events.js';
export type * from './backend.js';
export * from './protocol.js';
export { AgentClient, defaultRequestTimeoutMs } from './agent-client.js';
export { VmAgent, checkSettings } from './agent/vm-agent.js';
export { AgentEndpoint } from './agent/agent-endpoint.js';
export { KvmBackend } from './backends/kvm.js';
export { SimBackend } from './backends/sim.js';
export { ProgressMeter } from './agent/progress-meter.js';
export * from './agent/detectors/index.js';
export { chooseRecoveryTarget, type RecoveryTarget, type TargetConstraints } from './agent/recovery.js';
export { AutoTuner, decideInterval, initialTuningState, modelParameters, tuning, type EpochSample, type TuningChange, type TuningInput, type TuningSettings, type TuningState } from './agent/auto-tune.js';

import { fileURLToPath } from 'node:url';
/** The agent program the server starts, one process per VM. */
export const agentProgramPath = fileURLToPath(new URL('./agent/main.js', import.meta.url));
export * from './model/index.js';
