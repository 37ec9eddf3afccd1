// What the agent accepts on its socket, checked before anything acts on it.
// The socket is reachable only by the server's user, but whatever arrives
// on it is still treated as a stranger's input: a frame that is not a
// well-formed request gets an error answer (or none, if it has no usable
// id), never an exception in the agent.
import { checkSettingsPatch, type CheckpointSettings } from '../config.js';
import { EngineError } from '../errors.js';
import { checkFaultRequest, type FaultRequest } from '../faults.js';
import type { AgentMethod, RollbackTarget } from '../protocol.js';

export type AgentCall =
  | { method: 'hello'; protocol: number; vmId?: string }
  | { method: 'status' | 'checkpoint' | 'checkpoints' | 'faults' | 'stop' }
  | { method: 'configure'; patch: Partial<CheckpointSettings> }
  | { method: 'rollback'; to: RollbackTarget }
  | { method: 'inject'; fault: FaultRequest }
  | { method: 'console'; lines: number };

/** A frame that named an id the answer can go to, with its call or the reason it is refused. */
export type ParsedRequest = { id: number; call: AgentCall } | { id: number; error: EngineError };

export const maxConsoleLines = 1000;
const withoutParams = new Set<AgentMethod>(['status', 'checkpoint', 'checkpoints', 'faults', 'stop']);

/** null: not even an id to answer to (the frame is dropped). */
export function parseRequest(frame: unknown): ParsedRequest | null {
  if (!isPlainObject(frame) || !Number.isSafeInteger(frame.id) || (frame.id as number) < 0) return null;
  const id = frame.id as number;
  try {
    return { id, call: parseCall(frame.method, frame.params ?? {}) };
  } catch (error) {
    return { id, error: EngineError.from(error) };
  }
}

function parseCall(method: unknown, params: unknown): AgentCall {
  if (typeof method !== 'string') throw new EngineError('invalid-argument', 'method must be a string');
  if (!isPlainObject(params)) throw new EngineError('invalid-argument', 'params must be an object');
  if (withoutParams.has(method as AgentMethod)) return { method: method as 'status' };
  switch (method) {
    case 'hello': {
      if (!Number.isSafeInteger(params.protocol)) throw new EngineError('invalid-argument', 'hello needs an integer protocol');
      if (params.vmId !== undefined && typeof params.vmId !== 'string') throw new EngineError('invalid-argument', 'hello: vmId must be a string');
      return { method, protocol: params.protocol as number, ...(params.vmId !== undefined ? { vmId: params.vmId as string } : {}) };
    }
    case 'configure':
      checkSettingsPatch(params);
      return { method, patch: params as Partial<CheckpointSettings> };
    case 'rollback':
      return { method, to: rollbackTarget(params.to) };
    case 'inject':
      if (typeof params.kind !== 'string') throw new EngineError('invalid-argument', 'inject needs a fault kind');
      checkFaultRequest(params as unknown as FaultRequest);
      return { method, fault: params as unknown as FaultRequest };
    case 'console': {
      const lines = params.lines ?? 100;
      if (!Number.isSafeInteger(lines) || (lines as number) < 0 || (lines as number) > maxConsoleLines) {
        throw new EngineError('invalid-argument', `lines must be an integer from 0 to ${maxConsoleLines}`);
      }
      return { method, lines: lines as number };
    }
    default:
      throw new EngineError('invalid-argument', `unknown method ${method.slice(0, 64)}`);
  }
}

function rollbackTarget(to: unknown): RollbackTarget {
  if (to === 'latest' || to === 'safe') return to;
  if (Number.isSafeInteger(to) && (to as number) >= 0) return to as number;
  throw new EngineError('invalid-argument', 'rollback: to must be a checkpoint seq, "latest" or "safe"');
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
