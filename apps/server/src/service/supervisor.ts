// The server's side of the process model: one detached agent process per
// VM, reached over its Unix socket. Agents outlive the server; a starting
// server re-attaches to the ones alive and re-creates, from their stored
// definitions, the VMs whose agents are gone. An agent that dies while
// attached marks its VM failed with the reason; the server carries on.
//
// Exactly one agent per VM: an agent holds its VM's lock for its life, and
// the server starts no agent for a VM whose lock is held. An agent that
// holds the lock but does not answer (a busy host) is waited for, never
// doubled; the server signals only processes confirmed to be that VM's
// agent (service/agent-process.ts).
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  AgentClient,
  agentLockPath,
  agentSocketPath,
  backendUnavailable,
  EngineError,
  InstanceLock,
  lockHeldExitCode,
  type AgentMethod,
  type AgentMethods,
  type AgentStatus,
  type CheckpointSettings,
  type TelemetryEvent,
  type VmSpec,
  type VmState,
} from '@uckpt/engine';
import { newVmId, type AgentIdentity, type Store, type VmRecord } from '../store/index.js';
import { describeExit, exitsWithin, isAgentOf, spawnAgent, waitForAgentExit } from './agent-process.js';
import { checkCapacity, defaultCapacity, hostMemory, type CapacityLimits, type HostMemory } from './capacity.js';
import { viewOf, type VmView } from './vm-view.js';

export interface SupervisorOptions {
  stateDir: string;
  /**
   * Where the agents' sockets and locks are: STATE_DIR/agents unless given.
   * It must be a local file system (Unix sockets do not work on a network
   * share, such as the KVM rig's view of the host's state directory).
   */
  socketsDir?: string;
  store: Store;
  onEvent: (event: TelemetryEvent) => void;
  log: (message: string) => void;
  /** How long a new agent may take to boot its VM and answer; default 30 s. */
  startTimeoutMs?: number;
  /** Passed to agents: how long they calibrate before protecting (tests shorten it). */
  calibrationMs?: number;
  capacity?: Partial<CapacityLimits>;
  /** The host's memory now (tests pretend). */
  hostMemory?: () => HostMemory;
}

interface ManagedVm {
  record: VmRecord;
  client: AgentClient | null;
  /** Set when this server started the agent: its exit status explains a death. */
  child: ChildProcess | null;
  /** Set while we close the connection on purpose. */
  detaching: boolean;
  /** Set while the server waits for an agent that holds the VM's lock but does not answer. */
  reconnect: NodeJS.Timeout | null;
}

const unixSocketPathMax = 107;
const terminal = new Set<VmState>(['finished', 'crashed', 'failed', 'stopped']);
/** How often the server tries again to reach an agent that holds its VM's lock but did not answer. */
const reconnectEveryMs = 2000;

export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #agentsDir: string;
  readonly #socketsDir: string;
  readonly #capacity: CapacityLimits;
  readonly #vms = new Map<string, ManagedVm>();

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#agentsDir = path.join(options.stateDir, 'agents');
    this.#socketsDir = options.socketsDir ?? this.#agentsDir;
    this.#capacity = { ...defaultCapacity, ...options.capacity };
    mkdirSync(this.#agentsDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.#socketsDir, { recursive: true, mode: 0o700 });
  }

  /** Re-attaches to every stored VM's agent, or re-creates the VM if its agent is gone. */
  async attachAll(): Promise<void> {
    const records = this.#options.store.listVms();
    await Promise.all(records.map((record) => this.#attachOrRecreate(record)));
  }

  async create(spec: VmSpec, settings: CheckpointSettings): Promise<VmView> {
    const unavailable = backendUnavailable(spec.backend);
    if (unavailable) throw new EngineError('backend-unavailable', unavailable);
    const live = [...this.#vms.values()].filter((managed) => !terminal.has(managed.record.state)).map((managed) => managed.record.spec);
    checkCapacity(live, spec, this.#capacity, (this.#options.hostMemory ?? hostMemory)());
    const id = newVmId();
    const socketPath = agentSocketPath(this.#socketsDir, id);
    if (socketPath.length > unixSocketPathMax) {
      throw new EngineError('invalid-argument', `the state directory path is too long for a Unix socket (${socketPath})`);
    }
    const record = this.#options.store.insertVm({ id, spec, settings, agentSocket: socketPath });
    const managed: ManagedVm = { record, client: null, child: null, detaching: false, reconnect: null };
    this.#vms.set(record.id, managed);
    try {
      const status = await this.#start(managed);
      if (status.state === 'failed') throw new EngineError('invalid-argument', `the VM could not start: ${status.reason ?? 'unknown reason'}`);
      return viewOf(managed.record, status);
    } catch (error) {
      // Creation failed: leave nothing behind.
      await this.#stopAgent(managed).catch(() => undefined);
      this.#forget(managed);
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
      const why = managed.reconnect ? ': its agent is alive but does not answer yet' : managed.record.reason ? `: ${managed.record.reason}` : '';
      throw new EngineError('conflict', `VM ${id} is ${managed.record.state}${why}`);
    }
    try {
      return await managed.client.request(method, params, timeoutMs);
    } catch (error) {
      // The connection closed under the request because the VM is being deleted (or the server stops): a conflict, not a failed agent.
      if (managed.detaching && error instanceof EngineError && error.code === 'agent-unavailable') {
        throw new EngineError('conflict', `VM ${id} was being deleted before its agent answered ${method}`);
      }
      throw error;
    }
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
    this.#forget(managed);
  }

  /** Deliberate shutdown: every agent stops its VM and exits. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#vms.values()].map((managed) => this.#stopAgent(managed).catch(() => undefined)));
  }

  /** Closes the connections and leaves the agents running, for a restart. */
  detachAll(): void {
    for (const managed of this.#vms.values()) {
      managed.detaching = true;
      this.#stopReconnecting(managed);
      managed.client?.close();
    }
  }

  async #attachOrRecreate(record: VmRecord): Promise<void> {
    const managed: ManagedVm = { record, client: null, child: null, detaching: false, reconnect: null };
    this.#vms.set(record.id, managed);
    const socketPath = record.agentSocket ?? agentSocketPath(this.#socketsDir, record.id);
    if (await this.#tryAttach(managed, socketPath)) return;
    if (InstanceLock.isHeld(agentLockPath(socketPath))) {
      this.#options.log(`VM ${record.id}: its agent holds the VM but does not answer; trying again every ${reconnectEveryMs / 1000} s`);
      this.#keepReconnecting(managed, socketPath);
      return;
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

  async #tryAttach(managed: ManagedVm, socketPath: string): Promise<boolean> {
    try {
      const { client, status } = await AgentClient.connect(socketPath, 2000, managed.record.id);
      this.#adopt(managed, client, status);
      this.#options.log(`re-attached to VM ${managed.record.id} (agent pid ${status.pid}, ${status.state})`);
      return true;
    } catch (error) {
      this.#options.log(`VM ${managed.record.id}: its agent does not answer (${(error as Error).message})`);
      return false;
    }
  }

  /** Keeps trying to reach an agent that holds the VM's lock; if it lets go, the VM is re-created or marked failed. */
  #keepReconnecting(managed: ManagedVm, socketPath: string): void {
    managed.reconnect = setTimeout(async () => {
      managed.reconnect = null;
      if (!this.#vms.has(managed.record.id) || managed.detaching) return;
      if (await this.#tryAttach(managed, socketPath)) return;
      if (InstanceLock.isHeld(agentLockPath(socketPath))) this.#keepReconnecting(managed, socketPath);
      else if (!terminal.has(managed.record.state)) await this.#attachOrRecreate(managed.record);
    }, reconnectEveryMs);
    managed.reconnect.unref();
  }

  #stopReconnecting(managed: ManagedVm): void {
    if (managed.reconnect) clearTimeout(managed.reconnect);
    managed.reconnect = null;
  }

  async #start(managed: ManagedVm): Promise<AgentStatus> {
    const { id, spec, settings } = managed.record;
    const socketPath = managed.record.agentSocket ?? agentSocketPath(this.#socketsDir, id);
    const startTimeoutMs = this.#options.startTimeoutMs ?? 30_000;
    if (InstanceLock.isHeld(agentLockPath(socketPath))) {
      throw new EngineError('conflict', `an agent already runs VM ${id} (its lock is held); it is not started twice`);
    }
    const logPath = path.join(this.#agentsDir, `${id}.log`);
    const child = spawnAgent({
      vmId: id, socketPath, logPath, spec, settings,
      ...(this.#options.calibrationMs !== undefined ? { calibrationMs: this.#options.calibrationMs } : {}),
    });
    managed.child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) => {
        const why = code === lockHeldExitCode ? 'another agent holds the VM' : `${describeExit(code, signal)}: ${lastLine(logPath)}`;
        reject(new EngineError('backend-unavailable', `the agent exited at start (${why})`));
      }),
    );
    exited.catch(() => undefined);
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      try {
        const { client, status } = await Promise.race([AgentClient.connect(socketPath, 2000, id), exited]);
        this.#adopt(managed, client, status);
        return status;
      } catch (error) {
        if ((error as EngineError).code === 'backend-unavailable') throw error;
        if (Date.now() > deadline) {
          // Still our own child, not yet reaped: its pid cannot name another process.
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          throw new EngineError('timeout', `the agent did not come up within ${startTimeoutMs} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  #adopt(managed: ManagedVm, client: AgentClient, status: AgentStatus): void {
    const { id } = managed.record;
    const identity: AgentIdentity = { pid: status.pid, startTime: status.startTime };
    // The agent says who it is; /proc must agree before the server ever signals that pid.
    const confirmed = isAgentOf(identity, id) ? identity : null;
    if (!confirmed) this.#options.log(`VM ${id}: agent pid ${status.pid} could not be confirmed in /proc; it will never be signalled`);
    this.#stopReconnecting(managed);
    managed.client = client;
    managed.detaching = false;
    managed.record = { ...managed.record, agent: confirmed };
    this.#options.store.updateAgent(id, confirmed);
    client.on('telemetry', (event) => {
      // An agent speaks for its own VM only.
      if (event.vmId !== id) return;
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
    // The server may have let go of the VM meanwhile (deleted, or the service closing, its store with it).
    if (managed.detaching || !this.#vms.has(managed.record.id)) return;
    this.#options.log(`VM ${managed.record.id}: ${reason}`);
    this.#markFailed(managed, reason);
  }

  async #deathReason(managed: ManagedVm): Promise<string> {
    const { child, record } = managed;
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
    if (record.agent && (await exitsWithin(record.agent, 1000))) return `the agent process (pid ${record.agent.pid}) died`;
    return `the connection to the agent${record.agent ? ` (pid ${record.agent.pid})` : ''} was lost`;
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
    this.#stopReconnecting(managed);
    // The close handler clears managed.client, and the agent closes as it stops: keep hold of this one.
    const { client } = managed;
    if (client && !client.closed) {
      await client.request('stop', {}, 5000).catch(() => undefined);
      client.close();
    }
    const { agent } = managed.record;
    if (agent) await waitForAgentExit(agent, managed.record.id, 5000);
    else if (managed.child && managed.child.exitCode === null && managed.child.signalCode === null) managed.child.kill('SIGKILL');
  }

  /** Forgets a VM whose agent has stopped: its row and the agent's files go. */
  #forget(managed: ManagedVm): void {
    const { id, agentSocket } = managed.record;
    this.#vms.delete(id);
    // Files first, the row last: a server killed in between leaves a VM that a
    // later delete finishes, never files that no row points to any more.
    const socketPath = agentSocket ?? agentSocketPath(this.#socketsDir, id);
    for (const file of [socketPath, ...InstanceLock.files(agentLockPath(socketPath)), path.join(this.#agentsDir, `${id}.log`)]) rmSync(file, { force: true });
    this.#options.store.deleteVm(id);
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

function lastLine(logPath: string): string {
  try {
    const lines = readFileSync(logPath, 'utf8').trim().split('\n');
    return lines.at(-1) ?? '';
  } catch {
    return '(no agent log)';
  }
}
