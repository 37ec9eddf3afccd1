#!/usr/bin/env node
// An agent process: owns one protected VM and serves it on a Unix socket.
// It is started detached by the server and outlives it, so VMs and their
// checkpoints survive a server crash or restart. It holds the VM's lock
// (next to the socket) for its whole life: a second agent for the same VM
// exits at once instead of running the VM twice.
//
//   node agent/main.js --vm-id ID --socket PATH --spec JSON --settings JSON
import { parseArgs } from 'node:util';
import { KvmBackend } from '../backends/kvm.js';
import { SimBackend } from '../backends/sim.js';
import { XenBackend } from '../backends/xen.js';
import { withDefaultSettings, type CheckpointSettings, type VmSpec } from '../config.js';
import { AgentEndpoint } from './agent-endpoint.js';
import { agentLockPath, lockHeldExitCode } from './paths.js';
import { InstanceLock } from './instance-lock.js';
import { VmAgent } from './vm-agent.js';

// Files the agent creates (its socket) are its user's alone.
process.umask(0o077);

const { values } = parseArgs({
  options: {
    'vm-id': { type: 'string' },
    socket: { type: 'string' },
    spec: { type: 'string' },
    settings: { type: 'string' },
    'calibration-ms': { type: 'string' },
  },
});

function required(name: keyof typeof values): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') {
    process.stderr.write(`uckpt agent: --${name} is required\n`);
    process.exit(2);
  }
  return value;
}

const vmId = required('vm-id');
const socketPath = required('socket');
const log = (message: string) => process.stderr.write(`${new Date().toISOString()} agent ${vmId}: ${message}\n`);

// A fault in one request's handling must not take the VM and its checkpoints down.
process.on('unhandledRejection', (reason) => log(`unhandled rejection (the agent carries on): ${describe(reason)}`));
process.on('uncaughtException', (error) => log(`uncaught exception (the agent carries on): ${describe(error)}`));

const lock = InstanceLock.tryAcquire(agentLockPath(socketPath));
if (!lock) {
  log(`another agent already runs VM ${vmId} (its lock ${agentLockPath(socketPath)} is held); exiting`);
  process.exit(lockHeldExitCode);
}

const spec = JSON.parse(required('spec')) as VmSpec;
const settings = withDefaultSettings(JSON.parse(required('settings')) as Partial<CheckpointSettings>);
const backends = { kvm: KvmBackend, xen: XenBackend, sim: SimBackend };
const backend = new backends[spec.backend]();
const agent = new VmAgent({
  vmId,
  spec,
  settings,
  backend,
  ...(values['calibration-ms'] ? { calibrationMs: Number(values['calibration-ms']) } : {}),
});
const endpoint = new AgentEndpoint(agent, log);

let stopping = false;
async function shutdown(why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`stopping: ${why}`);
  agent.stop();
  await endpoint.close();
  lock!.release();
  process.exit(0);
}

endpoint.onStop = () => void shutdown('stop requested');
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
// The server may go away at any time; a write to its dead socket must not kill us.
process.on('SIGPIPE', () => undefined);
agent.on('telemetry', (event) => {
  if (event.type === 'vm-state') log(`state ${event.state}${event.reason ? `: ${event.reason}` : ''}`);
  if (event.type === 'alert') log(`alert ${event.detector}: ${event.message} (action ${event.action}${event.actionReason ? `: ${event.actionReason}` : ''})`);
  if (event.type === 'recovery') log(`recovery ${event.outcome} after ${event.rollbacks} rollback(s): ${event.message}`);
});

try {
  await endpoint.listen(socketPath);
  agent.start();
  log(`serving ${spec.backend} VM "${spec.name}" (${spec.workload}) on ${socketPath}`);
} catch (error) {
  log(`could not start: ${(error as Error).message}`);
  // Tell a server that is waiting for us why we died; it reads our log.
  process.exit(1);
}

function describe(value: unknown): string {
  return value instanceof Error ? (value.stack ?? value.message) : String(value);
}
