// Agent processes as the server starts, recognises and stops them. The
// server signals a process only once it has confirmed that the process is
// the agent of that VM: the pid and start time it recorded still name a
// running process, and that process's command line is the agent program
// for that VM id. A pid left in the database by an agent long gone, now
// reused by anything else, is never signalled.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { agentProgramPath, commandLine, isRunning, type CheckpointSettings, type ProcessIdentity, type VmSpec } from '@uckpt/engine';

export interface AgentLaunch {
  vmId: string;
  socketPath: string;
  logPath: string;
  spec: VmSpec;
  settings: CheckpointSettings;
  calibrationMs?: number;
}

/**
 * What an agent inherits of the server's environment: what Node and the
 * backends need, nothing else (the server's tokens, for one, stay behind).
 */
const inheritedVariables = /^(PATH|HOME|LANG|LC_[A-Z]+|TZ|TMPDIR|NODE_OPTIONS|UCKPT_(?!.*TOKEN)[A-Z0-9_]+)$/;

export function agentEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => inheritedVariables.test(name)));
}

/** Starts an agent detached in its own session (it must survive the server), its output into its log. */
export function spawnAgent(launch: AgentLaunch): ChildProcess {
  const args = [agentProgramPath, '--vm-id', launch.vmId, '--socket', launch.socketPath, '--spec', JSON.stringify(launch.spec), '--settings', JSON.stringify(launch.settings)];
  if (launch.calibrationMs !== undefined) args.push('--calibration-ms', String(launch.calibrationMs));
  const logFd = openSync(launch.logPath, 'a', 0o600);
  try {
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd], env: agentEnvironment() });
    child.unref();
    return child;
  } finally {
    closeSync(logFd);
  }
}

/** Whether `identity` is a running agent process of VM `vmId`. */
export function isAgentOf(identity: ProcessIdentity, vmId: string): boolean {
  if (!isRunning(identity)) return false;
  const argv = commandLine(identity.pid);
  if (!argv || !argv.includes(agentProgramPath)) return false;
  const at = argv.indexOf('--vm-id');
  return at >= 0 && argv[at + 1] === vmId;
}

/** Waits up to `ms` for the process to end; true if it did. */
export async function exitsWithin(identity: ProcessIdentity, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isRunning(identity)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/**
 * Waits for VM `vmId`'s agent to exit; after `graceMs` it is sent SIGKILL,
 * if it is still confirmed to be that agent.
 */
export async function waitForAgentExit(identity: ProcessIdentity, vmId: string, graceMs: number): Promise<void> {
  if (await exitsWithin(identity, graceMs)) return;
  if (!isAgentOf(identity, vmId)) return;
  try {
    process.kill(identity.pid, 'SIGKILL');
  } catch {
    return;
  }
  await exitsWithin(identity, 2000);
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}
