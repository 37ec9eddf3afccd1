// Protected VM definitions: what the server must re-create or re-attach to
// after a restart. The spec is fixed at creation; the settings, the agent's
// whereabouts and the last known state change over the VM's life.
import { randomBytes } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import { EngineError, withDefaultSettings, type CheckpointSettings, type VmSpec, type VmState } from '@uckpt/engine';
import { fromJson, toJson } from './json.js';

export interface VmRecord {
  id: string;
  spec: VmSpec;
  settings: CheckpointSettings;
  /** Unix time in ms. */
  createdAt: number;
  /** The VM's agent process as last confirmed (pid and start time: pids are reused); null while it has none. */
  agent: AgentIdentity | null;
  /** Where the VM's agent listens; fixed when the VM is created. */
  agentSocket: string | null;
  /** Last state recorded with markState ('starting' at creation). */
  state: VmState;
  /** Why the VM is in that state (set for failed, crashed and stopped VMs). */
  reason: string | null;
}

/** A process, told apart from later ones with the same pid by its start time (clock ticks since boot, /proc/PID/stat). */
export interface AgentIdentity {
  pid: number;
  startTime: number;
}

export interface NewVm {
  /** Defaults to a fresh newVmId(). */
  id?: string;
  agentSocket?: string;
  spec: VmSpec;
  settings: CheckpointSettings;
  /** Defaults to now. */
  createdAt?: number;
}

/** 'vm-' and 12 hex digits: short enough to type, random enough never to collide on one host. */
export function newVmId(): string {
  return `vm-${randomBytes(6).toString('hex')}`;
}

interface VmRow {
  id: string;
  spec: string;
  settings: string;
  created_at: number;
  agent_pid: number | null;
  agent_start_time: number | null;
  agent_socket: string | null;
  state: string;
  reason: string | null;
}

export class VmTable {
  private readonly insert: Statement<[VmRow]>;
  private readonly setSettings: Statement<[string, string]>;
  private readonly setAgent: Statement<[number | null, number | null, string]>;
  private readonly setState: Statement<[string, string | null, string]>;
  private readonly remove: Statement<[string]>;
  private readonly selectOne: Statement<[string], VmRow>;
  private readonly selectAll: Statement<[], VmRow>;

  constructor(db: Database) {
    this.insert = db.prepare(
      `INSERT INTO vms (id, spec, settings, created_at, agent_pid, agent_start_time, agent_socket, state, reason)
       VALUES (@id, @spec, @settings, @created_at, @agent_pid, @agent_start_time, @agent_socket, @state, @reason)`,
    );
    this.setSettings = db.prepare('UPDATE vms SET settings = ? WHERE id = ?');
    this.setAgent = db.prepare('UPDATE vms SET agent_pid = ?, agent_start_time = ? WHERE id = ?');
    this.setState = db.prepare('UPDATE vms SET state = ?, reason = ? WHERE id = ?');
    this.remove = db.prepare('DELETE FROM vms WHERE id = ?');
    this.selectOne = db.prepare('SELECT * FROM vms WHERE id = ?');
    this.selectAll = db.prepare('SELECT * FROM vms ORDER BY created_at, id');
  }

  insertVm(vm: NewVm): VmRecord {
    const row: VmRow = {
      id: vm.id ?? newVmId(),
      spec: toJson(vm.spec, 'the VM spec'),
      settings: toJson(vm.settings, 'the checkpoint settings'),
      created_at: vm.createdAt ?? Date.now(),
      agent_pid: null,
      agent_start_time: null,
      agent_socket: vm.agentSocket ?? null,
      state: 'starting',
      reason: null,
    };
    try {
      this.insert.run(row);
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new EngineError('conflict', `a VM with id ${row.id} already exists`);
      }
      throw error;
    }
    return toRecord(row);
  }

  updateSettings(id: string, settings: CheckpointSettings): void {
    mustChange(this.setSettings.run(toJson(settings, 'the checkpoint settings'), id).changes, id);
  }

  updateAgent(id: string, agent: AgentIdentity | null): void {
    mustChange(this.setAgent.run(agent?.pid ?? null, agent?.startTime ?? null, id).changes, id);
  }

  markState(id: string, state: VmState, reason: string | null = null): void {
    mustChange(this.setState.run(state, reason, id).changes, id);
  }

  deleteVm(id: string): void {
    mustChange(this.remove.run(id).changes, id);
  }

  /** undefined for an unknown id: looking up is not an error, acting on nothing is. */
  getVm(id: string): VmRecord | undefined {
    const row = this.selectOne.get(id);
    return row && toRecord(row);
  }

  /** Oldest first, the order they were created in. */
  listVms(): VmRecord[] {
    return this.selectAll.all().map(toRecord);
  }
}

function mustChange(changes: number, id: string): void {
  if (changes === 0) throw new EngineError('not-found', `no VM with id ${id}`);
}

function toRecord(row: VmRow): VmRecord {
  return {
    id: row.id,
    spec: fromJson<VmSpec>(row.spec, `the spec of VM ${row.id}`),
    settings: withDefaultSettings(fromJson<Partial<CheckpointSettings>>(row.settings, `the settings of VM ${row.id}`)),
    createdAt: row.created_at,
    agent: row.agent_pid !== null && row.agent_start_time !== null ? { pid: row.agent_pid, startTime: row.agent_start_time } : null,
    agentSocket: row.agent_socket,
    state: row.state as VmState,
    reason: row.reason,
  };
}
