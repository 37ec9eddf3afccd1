// VMs as the hostile runs use them: simulated ones (the labelled test
// double; a real backend where /dev/kvm is present is not needed to attack
// the service's own surfaces), created through the API, and the check that
// the server's list of VMs and the agent processes on the host agree.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Api, Caller } from './api-client.ts';
import { agentProcesses, sleep, type AgentProcess } from './server-process.ts';

export interface VmView {
  id: string;
  name: string;
  backend: string;
  simulated: boolean;
  state: string;
  reason: string | null;
  settings: Record<string, unknown>;
  checkpointsRetained: number;
}

export interface Checkpoint {
  seq: number;
}

export const terminalStates = new Set(['finished', 'crashed', 'failed', 'stopped']);

export async function createSimVm(api: Api, name: string, settings: Record<string, unknown> = {}): Promise<VmView> {
  return api.ok<VmView>('POST', '/api/vms', { name, workload: 'sim', backend: 'sim', settings: { intervalMs: 50, ...settings } });
}

export async function listVms(api: Api, caller: Caller = 'viewer'): Promise<VmView[]> {
  return (await api.ok<{ vms: VmView[] }>('GET', '/api/vms', undefined, caller)).vms;
}

/** Waits until every listed VM (or those in `ids`) is running; returns the list as last seen. */
export async function waitRunning(api: Api, ids: readonly string[] | null, timeoutMs = 30_000): Promise<VmView[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const vms = await listVms(api);
    const watched = ids ? vms.filter((vm) => ids.includes(vm.id)) : vms;
    if (watched.every((vm) => vm.state === 'running') || Date.now() > deadline) return vms;
    await sleep(100);
  }
}

export interface AgentAudit {
  /** VM id -> its agent processes. */
  agentsByVm: Map<string, AgentProcess[]>;
  /** Agents whose VM the server does not list. */
  orphans: AgentProcess[];
  problems: string[];
}

/**
 * Exactly one agent per VM that should have one (every state but stopped
 * and failed), none for a VM that should not, and no agent for a VM the
 * server does not know.
 */
export function auditAgents(stateDir: string, vms: readonly VmView[]): AgentAudit {
  const agents = agentProcesses(stateDir);
  const agentsByVm = new Map<string, AgentProcess[]>();
  for (const agent of agents) agentsByVm.set(agent.vmId, [...(agentsByVm.get(agent.vmId) ?? []), agent]);
  const listed = new Set(vms.map((vm) => vm.id));
  const orphans = agents.filter((agent) => !listed.has(agent.vmId));
  const problems: string[] = [];
  for (const vm of vms) {
    const count = agentsByVm.get(vm.id)?.length ?? 0;
    const wanted = vm.state === 'stopped' || vm.state === 'failed' ? 0 : 1;
    if (count !== wanted) problems.push(`VM ${vm.id} (${vm.name}, ${vm.state}${vm.reason ? `: ${vm.reason}` : ''}) has ${count} agent processes, not ${wanted}`);
  }
  for (const orphan of orphans) problems.push(`orphan agent process ${orphan.pid} for VM ${orphan.vmId}, which the server does not list`);
  return { agentsByVm, orphans, problems };
}

/** Every file of a VM's in the agents/ directory: its socket, lock (and the lock's journal), log, anything else. */
export function agentFiles(stateDir: string, vmId: string): string[] {
  const dir = path.join(stateDir, 'agents');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((name) => name.startsWith(`${vmId}.`)).map((name) => path.join(dir, name));
}
