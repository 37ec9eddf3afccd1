export * from './config.js';
export * from './errors.js';
export * from './faults.js';
export type * from './events.js';
export type * from './backend.js';
export * from './protocol.js';
export { AgentClient, defaultRequestTimeoutMs } from './agent-client.js';
export { VmAgent } from './agent/vm-agent.js';
export { AgentEndpoint, defaultEndpointLimits, type EndpointLimits } from './agent/agent-endpoint.js';
export { agentLockPath, agentSocketPath, lockHeldExitCode } from './agent/paths.js';
export { InstanceLock } from './agent/instance-lock.js';
export { parseRequest, isPlainObject, type AgentCall, type ParsedRequest } from './agent/requests.js';
export { ConsoleGate, maxConsoleLineChars } from './agent/console-gate.js';
export { commandLine, isRunning, processIdentity, type ProcessIdentity } from './process-identity.js';
export { KvmBackend } from './backends/kvm.js';
export { SimBackend } from './backends/sim.js';
export { backendUnavailable } from './backends/availability.js';
export { describeHost, type HostInfo, type HostProbe, type KvmFlavor } from './host.js';
export { hostDomains, protectionRefusal, resolveDomain, type HostDomain } from './host-domains.js';
export { ProgressMeter } from './agent/progress-meter.js';
export * from './agent/detectors/index.js';
export { chooseRecoveryTarget, type RecoveryTarget, type TargetConstraints } from './agent/recovery.js';
export { AutoTuner, decideInterval, initialTuningState, modelParameters, tuning, type EpochSample, type TuningChange, type TuningInput, type TuningSettings, type TuningState } from './agent/auto-tune.js';

import { fileURLToPath } from 'node:url';
/** The agent program the server starts, one process per VM. */
export const agentProgramPath = fileURLToPath(new URL('./agent/main.js', import.meta.url));
export * from './model/index.js';

// What guests the backends run: the workload catalog, for the service's routes.
export { findWorkload, listWorkloads, type WorkloadDescriptor } from '@uckpt/guest';
export { msToSeconds, nsToUs, usToMs, usToSeconds } from '@uckpt/native-core';
