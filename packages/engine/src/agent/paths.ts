// Where a VM's agent keeps its files in the server's agents/ directory: its
// socket and, beside it, the lock it holds for its life.
import path from 'node:path';

/** Exit code of an agent that found its VM's lock held: another agent runs the VM. */
export const lockHeldExitCode = 75;

export function agentSocketPath(agentsDir: string, vmId: string): string {
  return path.join(agentsDir, `${vmId}.sock`);
}

export function agentLockPath(socketPath: string): string {
  return `${socketPath.replace(/\.sock$/, '')}.lock`;
}
