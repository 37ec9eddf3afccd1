// The server's side of the process model: one detached agent process per
// VM, reached over its Unix socket. Agents outlive the server; a starting
// server re-attaches to the ones alive and re-creates, from their stored
// definitions, the VMs whose agents are gone. An agent that dies while
// attached marks its VM failed with the reason; the server carries on.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  AgentClient,
  agentProgramPath,
  EngineError,
  type AgentMethod,
  type AgentMethods,
  type AgentStatus,
  type CheckpointSettings,
  type TelemetryEvent,
  type VmSpec,
  type VmState,
} from '@uckpt/engine';
import { newVmId, type Store, type VmRecord } from '../store/index.js';
import { viewOf, type VmView } from './vm-view.js';

export interface SupervisorOptions {
  stateDir: string;
  store: Store;
  onEvent: (event: TelemetryEvent) => void;
  log: (message: string) => void;
  /** How long a new agent may take to boot its VM and answer; default 30 s. */
  startTimeoutMs?: number;
  /** Passed to agents: how long they calibrate before protecting (tests shorten it). */
  calibrationMs?: number;
}

interface ManagedVm {
  record: VmRecord;
  client: AgentClient | null;
  /** Set when this server started the agent: its exit status explains a death. */
  child: ChildProcess | null;
  /** Set while we close the connection on purpose. */
  detaching: boolean;
}

const unixSocketPathMax = 107;
const terminal = new Set<VmState>(['finished', 'crashed', 'failed', 'stopped']);

export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #agentsDir: string;
  readonly #vms = new Map<string, ManagedVm>();

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#agentsDir = path.join(options.stateDir, 'agents');
    mkdirSync(this.#agentsDir, { recursive: true, mode: 0o700 });
  }

  /** Re-attaches to every stored VM's agent, or re-creates the VM if its agent is gone. */
  async attachAll(): Promise<void> {
    const records = this.#options.store.listVms();
    await Promise.all(records.map((record) => this.#attachOrRecreate(record)));
  }

  async create(spec: VmSpec, settings: CheckpointSettings): Promise<VmView> {
    const record = this.#options.store.insertVm({ id: newVmId(), spec, settings });
    const managed: ManagedVm = { record, client: null, child: null, detaching: false };
    this.#vms.set(record.id, managed);
    try {
      const status = await this.#start(managed);
      if (status.state === 'failed') throw new EngineError('invalid-argument', `the VM could not start: ${status.reason ?? 'unknown reason'}`);
      return viewOf(managed.record, status);
    } catch (error) {
      // Creation failed: leave nothing behind.
      await this.#stopAgent(managed).catch(() => undefined);
      this.#vms.delete(record.id);
      this.#options.store.deleteVm(record.id);
      throw error;
    }
  }

  has(id: string): boolean {
    return this.#vms.has(id);
  }

  async view(id: string): Promise<VmView> {
    const managed = this.#require(id);
    return viewOf(managed.record, await this.#statusOrNull(managed));
  }

  async list(): Promise<VmView[]> {
    return Promise.all([...this.#vms.values()].map(async (managed) => viewOf(managed.record, await this.#statusOrNull(managed))));
  }

  /** Sends a request to a VM's agent; refused with a clear error when the VM has no live agent. */
  async request<M extends AgentMethod>(id: string, method: M, params: AgentMethods[M]['params'], timeoutMs?: number): Promise<AgentMethods[M]['result']> {
    const managed = this.#require(id);
    if (!managed.client || managed.client.closed) {
      const why = managed.record.reason ? `: ${managed.record.reason}` : '';
      throw new EngineError('conflict', `VM ${id} is ${managed.record.state}${why}`);
    }
    return managed.client.request(method, params, timeoutMs);
  }

  async configure(id: string, patch: Partial<CheckpointSettings>): Promise<CheckpointSettings> {
    const settings = await this.request(id, 'configure', patch);
    const managed = this.#require(id);
    managed.record = { ...managed.record, settings };
    this.#options.store.updateSettings(id, settings);
    return settings;
  }

  async remove(id: string): Promise<void> {
    const managed = this.#require(id);
    await this.#stopAgent(managed);
    this.#vms.delete(id);
    this.#options.store.deleteVm(id);
  }

  /** Deliberate shutdown: every agent stops its VM and exits. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#vms.values()].map((managed) => this.#stopAgent(managed).catch(() => undefined)));
  }

  /** Closes the connections and leaves the agents running, for a restart. */
  detachAll(): void {
    for (const managed of this.#vms.values()) {
      managed.detaching = true;
      managed.client?.close();
    }
  }

  async #attachOrRecreate(record: VmRecord): Promise<void> {
    const managed: ManagedVm = { record, client: null, child: null, detaching: false };
    this.#vms.set(record.id, managed);
    if (record.agentSocket && existsSync(record.agentSocket)) {
      try {
        const { client, status } = await AgentClient.connect(record.agentSocket, 2000);
        this.#adopt(managed, client);
        this.#options.log(`re-attached to VM ${record.id} (agent pid ${status.pid}, ${status.state})`);
        return;
      } catch (error) {
        this.#options.log(`VM ${record.id}: its agent does not answer (${(error as Error).message})`);
      }
    }
    if (terminal.has(record.state)) return;
    this.#options.log(`VM ${record.id}: agent gone, re-creating the VM from its definition`);
    try {
      await this.#start(managed);
      this.#emitState(managed, 'starting', 're-created from its definition after its agent was gone; earlier checkpoints are lost');
    } catch (error) {
      this.#markFailed(managed, `could not re-create the VM: ${(error as Error).message}`);
    }
  }

  async #start(managed: ManagedVm): Promise<AgentStatus> {
    const { id, spec, settings } = managed.record;
    const socketPath = path.join(this.#agentsDir, `${id}.sock`);
    if (socketPath.length > unixSocketPathMax) {
      throw new EngineError('invalid-argument', `the state directory path is too long for a Unix socket (${socketPath})`);
    }
    const logPath = path.join(this.#agentsDir, `${id}.log`);
    const logFd = openSync(logPath, 'a', 0o600);
    const args = [agentProgramPath, '--vm-id', id, '--socket', socketPath, '--spec', JSON.stringify(spec), '--settings', JSON.stringify(settings)];
    if (this.#options.calibrationMs !== undefined) args.push('--calibration-ms', String(this.#options.calibrationMs));
    // Detached in its own session: the agent must survive the server's death.
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    child.unref();
    managed.child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(new EngineError('backend-unavailable', `the agent exited at start (${describeExit(code, signal)}): ${lastLine(logPath)}`)),
      ),
    );
    exited.catch(() => undefined);
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 30_000);
    for (;;) {
      try {
        const { client, status } = await Promise.race([AgentClient.connect(socketPath, 2000), exited]);
        this.#options.store.updateAgent(id, child.pid ?? null, socketPath);
        managed.record = { ...managed.record, agentPid: child.pid ?? null, agentSocket: socketPath };
        this.#adopt(managed, client);
        return status;
      } catch (error) {
        const engineError = error as EngineError;
        if (engineError.code === 'backend-unavailable') throw error;
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new EngineError('timeout', `the agent did not come up within ${this.#options.startTimeoutMs ?? 30_000} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  #adopt(managed: ManagedVm, client: AgentClient): void {
    managed.client = client;
    managed.detaching = false;
    client.on('telemetry', (event) => {
      if (event.type === 'vm-state') this.#recordState(managed, event.state, event.reason ?? null);
      if (event.type === 'interval-tuned') this.#recordTunedInterval(managed, event.to);
      this.#options.onEvent(event);
    });
    client.on('close', () => {
      if (managed.client !== client) return;
      managed.client = null;
      if (!managed.detaching) void this.#agentLost(managed);
    });
  }

  async #agentLost(managed: ManagedVm): Promise<void> {
    const reason = await this.#deathReason(managed);
    this.#options.log(`VM ${managed.record.id}: ${reason}`);
    this.#markFailed(managed, reason);
  }

  async #deathReason(managed: ManagedVm): Promise<string> {
    const pid = managed.record.agentPid;
    const child = managed.child;
    if (child) {
      // The socket closes a moment before the exit status arrives.
      const status = child.exitCode !== null || child.signalCode !== null
        ? { code: child.exitCode, signal: child.signalCode }
        : await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | null>((resolve) => {
            const timer = setTimeout(() => resolve(null), 1000);
            child.once('exit', (code, signal) => {
              clearTimeout(timer);
              resolve({ code, signal });
            });
          });
      if (status) return `the agent process (pid ${child.pid}) died: ${describeExit(status.code, status.signal)}`;
    }
    if (pid && (await exitsWithin(pid, 1000))) return `the agent process (pid ${pid}) died`;
    return `the connection to the agent${pid ? ` (pid ${pid})` : ''} was lost`;
  }

  #markFailed(managed: ManagedVm, reason: string): void {
    this.#recordState(managed, 'failed', reason);
    this.#emitState(managed, 'failed', reason);
  }

  #emitState(managed: ManagedVm, state: VmState, reason: string): void {
    this.#options.onEvent({ type: 'vm-state', vmId: managed.record.id, time: Date.now(), state, reason });
  }

  /** The stored settings follow auto-tune: a VM re-created from them starts at the interval it was tuned to. */
  #recordTunedInterval(managed: ManagedVm, intervalMs: number): void {
    managed.record = { ...managed.record, settings: { ...managed.record.settings, intervalMs } };
    if (this.#vms.has(managed.record.id)) this.#options.store.updateSettings(managed.record.id, managed.record.settings);
  }

  #recordState(managed: ManagedVm, state: VmState, reason: string | null): void {
    managed.record = { ...managed.record, state, reason };
    if (this.#vms.has(managed.record.id)) this.#options.store.markState(managed.record.id, state, reason);
  }

  async #stopAgent(managed: ManagedVm): Promise<void> {
    managed.detaching = true;
    const pid = managed.record.agentPid ?? managed.child?.pid;
    if (managed.client && !managed.client.closed) {
      await managed.client.request('stop', {}, 5000).catch(() => undefined);
      managed.client.close();
    }
    if (pid) await waitForExit(pid, 5000);
  }

  async #statusOrNull(managed: ManagedVm): Promise<AgentStatus | null> {
    if (!managed.client || managed.client.closed) return null;
    try {
      return await managed.client.request('status', {}, 2000);
    } catch {
      return null;
    }
  }

  #require(id: string): ManagedVm {
    const managed = this.#vms.get(id);
    if (!managed) throw new EngineError('not-found', `no VM with id ${id}`);
    return managed;
  }
}

/** True while the process exists and is not a zombie waiting to be reaped. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/PID/stat: "pid (comm) S ..."; comm may hold spaces, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function exitsWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** Waits for a process to exit; after `graceMs` it is sent SIGKILL. */
async function waitForExit(pid: number, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 50));
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

function lastLine(logPath: string): string {
  try {
    const lines = readFileSync(logPath, 'utf8').trim().split('\n');
    return lines.at(-1) ?? '';
  } catch {
    return '(no agent log)';
  }
}
