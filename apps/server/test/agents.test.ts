// Agents as processes: one per VM whatever happens to the server, never a
// signal to a process not confirmed to be that VM's agent, and none of the
// server's secrets in their environment. Simulated VMs (a labelled test
// double) in real agent processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { agentLockPath, agentProgramPath, InstanceLock, lockHeldExitCode, processIdentity, type ProcessIdentity } from '@uckpt/engine';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnAgent } from '../src/service/agent-process.js';
import { Service } from '../src/service/service.js';
import { Store } from '../src/store/index.js';
import { asOperator, processGone, startServer, tokenEnv, until, type TestServer } from './helper.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serverWithVm(): Promise<{ server: TestServer; vmId: string; agent: ProcessIdentity }> {
  const server = await startServer();
  cleanups.push(() => server.close());
  const created = await server.app.inject({ method: 'POST', url: '/api/vms', headers: asOperator, payload: { name: 'sim', workload: 'graph', backend: 'sim', memoryMiB: 64 } });
  expect(created.statusCode, created.body).toBe(201);
  const vmId = created.json().id as string;
  const agent = await until(() => server.service.store.getVm(vmId)?.agent, 'the agent to be recorded');
  return { server, vmId, agent };
}

/** Pids of live agent processes of VM `vmId`, found by their command lines. */
function agentsOf(vmId: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return argv.includes(agentProgramPath) && argv[argv.indexOf('--vm-id') + 1] === vmId && !processGone(Number(pid));
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function reopen(stateDir: string): Promise<Service> {
  const service = await Service.open({ stateDir, env: tokenEnv, log: () => undefined, calibrationMs: 300, processMetrics: false });
  cleanups.push(() => service.close({ stopAgents: true }));
  return service;
}

describe('one agent per VM', () => {
  it('a second agent for a VM whose agent runs exits at once, leaving the first alone', async () => {
    const { server, vmId, agent } = await serverWithVm();
    const record = server.service.store.getVm(vmId)!;
    const second = spawnAgent({
      vmId, socketPath: record.agentSocket!, logPath: path.join(server.stateDir, 'second.log'), spec: record.spec, settings: record.settings,
    });
    const code = await new Promise((resolve) => second.once('exit', resolve));
    expect(code).toBe(lockHeldExitCode);
    expect(agentsOf(vmId)).toEqual([agent.pid]);
    const status = await server.service.supervisor.view(vmId);
    expect(status.state).toBe('running');
  });

  it('a server restarted while the agent is stopped (SIGSTOP) waits for it rather than start another', async () => {
    const { server, vmId, agent } = await serverWithVm();
    await server.app.close();
    await server.service.close({ stopAgents: false });
    process.kill(agent.pid, 'SIGSTOP');
    cleanups.push(() => {
      if (!processGone(agent.pid)) process.kill(agent.pid, 'SIGCONT');
    });

    const service = await reopen(server.stateDir);
    // The hello times out on a stopped agent; the lock it holds says it is alive.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    expect(agentsOf(vmId)).toEqual([agent.pid]);

    process.kill(agent.pid, 'SIGCONT');
    await until(async () => (await service.supervisor.view(vmId)).state === 'running', 'the server to reach the resumed agent');
    expect(agentsOf(vmId)).toEqual([agent.pid]);
  });
});

describe('no stray kills', () => {
  it('deleting a VM whose recorded agent pid now names another process leaves that process alone', async () => {
    const { server, vmId, agent } = await serverWithVm();
    await server.app.close();
    await server.service.close({ stopAgents: false });
    process.kill(agent.pid, 'SIGKILL');
    await until(() => processGone(agent.pid), 'the agent to die');

    // Another process now holds what the database says is the agent: the pid reuse case.
    const bystander: ChildProcess = spawn('sleep', ['60'], { stdio: 'ignore' });
    cleanups.push(() => void bystander.kill('SIGKILL'));
    const impostor = processIdentity(bystander.pid!)!;
    const store = new Store(server.stateDir);
    store.markState(vmId, 'failed', 'agent killed by the test');
    store.updateAgent(vmId, impostor);
    store.close();

    const service = await reopen(server.stateDir);
    await service.supervisor.remove(vmId);
    expect(processGone(impostor.pid)).toBe(false);
    expect(bystander.exitCode).toBeNull();
    expect(service.store.getVm(vmId)).toBeUndefined();
  });
});

describe("an agent's environment", () => {
  it('holds none of the server’s tokens or other secrets', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { UCKPT_OPERATOR_TOKEN: 'secret-operator-token', UCKPT_VIEWER_TOKEN: 'secret-viewer-token', AWS_SECRET_ACCESS_KEY: 'secret-key' });
    cleanups.push(() => {
      for (const name of ['UCKPT_OPERATOR_TOKEN', 'UCKPT_VIEWER_TOKEN', 'AWS_SECRET_ACCESS_KEY']) delete process.env[name];
      Object.assign(process.env, saved);
    });
    const { agent } = await serverWithVm();
    const environment = readFileSync(`/proc/${agent.pid}/environ`, 'utf8').split('\0').filter(Boolean);
    expect(environment.some((entry) => entry.startsWith('PATH='))).toBe(true);
    expect(environment.filter((entry) => /TOKEN|SECRET|secret/.test(entry))).toEqual([]);
  });

  it('the agent holds its VM’s lock for its life', async () => {
    const { server, vmId, agent } = await serverWithVm();
    const lock = agentLockPath(server.service.store.getVm(vmId)!.agentSocket!);
    expect(InstanceLock.isHeld(lock)).toBe(true);
    process.kill(agent.pid, 'SIGKILL');
    await until(() => processGone(agent.pid), 'the agent to die');
    await until(() => !InstanceLock.isHeld(lock), 'the kernel to release the lock');
  });
});
