// The server <-> agent protocol over a local Unix socket: frames of a
// 4-byte big-endian length followed by that many bytes of UTF-8 JSON.
// The first request on a connection is `hello`, which carries the protocol
// version; an agent refuses a version it does not speak. Additions (a new
// method, a new optional field) keep the version: an agent that predates a
// method answers it with an 'unknown method' error, and nothing else breaks.
// A change of meaning or shape of what exists takes a new version.
import type { CheckpointSettings, VmSpec, VmState } from './config.js';
import type { EngineErrorCode } from './errors.js';
import type { TelemetryEvent } from './events.js';
import type { BackendCheckpoint, BackendRollback } from './backend.js';
import type { FaultRequest, Injection } from './faults.js';

export const protocolVersion = 1;
/** Far above any real message; a longer frame means a broken peer. */
export const maxFrameBytes = 8 << 20;

/** What an agent knows about its VM right now; the API's VM view adds the definition. */
export interface VmLiveStatus {
  state: VmState;
  reason: string | null;
  simulated: boolean;
  settings: CheckpointSettings;
  progress: { units: number; runsDone: number; lastChecksum: string | null; rate: number };
  /** Unprotected progress rate measured at start, units/s; null until calibrated. */
  calibratedRate: number | null;
  overheadPct: number | null;
  overheadCalibratedPct: number | null;
  lastCheckpointTime: number | null;
  checkpointsRetained: number;
  storeBytes: number;
  epochs: number;
}

export interface AgentStatus extends VmLiveStatus {
  vmId: string;
  pid: number;
  /** With pid, names the agent process (field 22 of /proc/PID/stat). */
  startTime: number;
  protocol: number;
  spec: VmSpec;
  startedAt: number;
}

/** A VM as the REST API shows it: its definition and its live status. */
export interface VmView extends VmLiveStatus {
  id: string;
  name: string;
  backend: VmSpec['backend'];
  createdAt: number;
  spec: VmSpec;
}

export type RollbackTarget = number | 'latest' | 'safe';

/** Request methods, their params and their results. */
export interface AgentMethods {
  /** vmId: the VM the caller expects; an agent running another refuses. */
  hello: { params: { protocol: number; vmId?: string }; result: AgentStatus };
  status: { params: Record<string, never>; result: AgentStatus };
  configure: { params: Partial<CheckpointSettings>; result: CheckpointSettings };
  checkpoint: { params: Record<string, never>; result: BackendCheckpoint };
  rollback: { params: { to: RollbackTarget }; result: BackendRollback };
  checkpoints: { params: Record<string, never>; result: BackendCheckpoint[] };
  console: { params: { lines?: number }; result: string[] };
  inject: { params: FaultRequest; result: Injection };
  faults: { params: Record<string, never>; result: Injection[] };
  stop: { params: Record<string, never>; result: { stopped: true } };
}

export type AgentMethod = keyof AgentMethods;

export interface RequestMessage {
  id: number;
  method: AgentMethod;
  params: unknown;
}

export type ResponseMessage =
  | { id: number; result: unknown }
  | { id: number; error: { code: EngineErrorCode; message: string } };

export interface EventMessage {
  event: TelemetryEvent;
}

export type AgentMessage = ResponseMessage | EventMessage;

export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (body.length > maxFrameBytes) throw new Error(`frame of ${body.length} bytes exceeds ${maxFrameBytes}`);
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** Reassembles frames from a byte stream; throws on a frame too large or not JSON. */
export class FrameDecoder {
  #pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): unknown[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const messages: unknown[] = [];
    while (this.#pending.length >= 4) {
      const length = this.#pending.readUInt32BE(0);
      if (length > maxFrameBytes) throw new Error(`peer sent a frame of ${length} bytes (limit ${maxFrameBytes})`);
      if (this.#pending.length < 4 + length) break;
      const body = this.#pending.subarray(4, 4 + length);
      this.#pending = this.#pending.subarray(4 + length);
      messages.push(JSON.parse(body.toString('utf8')));
    }
    return messages;
  }
}
