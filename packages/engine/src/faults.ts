// Fault injection, for testing detectors and recovery: what an operator may
// ask for, what the backend reports it did, and how an injection's outcome
// is tracked (detected by which detector after how long, recovered or not).
import { EngineError } from './errors.js';

export const faultKinds = ['bit-flip', 'register', 'hang', 'crash', 'checkpoint-page'] as const;
export type FaultKind = (typeof faultKinds)[number];

export const memoryRegions = ['data', 'code', 'stack'] as const;
export type MemoryRegion = (typeof memoryRegions)[number];

export const faultRegisters = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip',
] as const;
export type FaultRegister = (typeof faultRegisters)[number];

export const faultLimits = {
  bits: { min: 1, max: 64 },
  page: { min: 0, max: 2 ** 32 - 1 },
  seq: { min: 1, max: Number.MAX_SAFE_INTEGER },
  seed: { min: 0, max: 2 ** 32 - 1 },
} as const;

export interface FaultRequest {
  kind: FaultKind;
  /** bit-flip: which part of the guest to hit (default data). */
  region?: MemoryRegion;
  /** bit-flip: a page within the region; checkpoint-page: the guest page whose stored copy is corrupted. */
  page?: number;
  /** bit-flip and register: how many bits to flip (default 1). */
  bits?: number;
  /** register: which one (default: chosen by the seed). */
  register?: FaultRegister;
  /** checkpoint-page: the checkpoint (default the newest retained). */
  seq?: number;
  /** Makes the random choices reproducible. */
  seed?: number;
}

/** What the backend did: a sentence for people and the facts for programs. */
export interface FaultEffect {
  description: string;
  details: Record<string, unknown>;
}

export type InjectionStatus = 'pending' | 'detected' | 'undetected';
export type RecoveryOutcome = 'recovered' | 'failed' | 'alert-only';

export interface Injection {
  id: string;
  vmId: string;
  time: number;
  request: FaultRequest;
  effect: FaultEffect;
  status: InjectionStatus;
  /** Set once an alert is attributed to it. */
  detection?: { detector: string; alertId: string; time: number; latencyMs: number };
  /** Set once the recovery it caused has ended. */
  recovery?: { outcome: RecoveryOutcome; rollbacks: number; seq?: number; message: string };
}

const allowedFields: Record<FaultKind, readonly (keyof FaultRequest)[]> = {
  'bit-flip': ['region', 'page', 'bits', 'seed'],
  register: ['register', 'bits', 'seed'],
  hang: ['seed'],
  crash: ['seed'],
  'checkpoint-page': ['page', 'seq', 'seed'],
};

/** Refuses a request that names an unknown kind or a field its kind does not take. */
export function checkFaultRequest(request: FaultRequest): void {
  if (!faultKinds.includes(request.kind)) {
    throw new EngineError('invalid-argument', `kind must be one of ${faultKinds.join(', ')} (got ${String(request.kind)})`);
  }
  const allowed = allowedFields[request.kind];
  for (const field of Object.keys(request) as (keyof FaultRequest)[]) {
    if (field === 'kind' || request[field] === undefined) continue;
    if (!allowed.includes(field)) {
      throw new EngineError('invalid-argument', `${field} does not apply to a ${request.kind} fault (it takes ${allowed.join(', ')})`);
    }
  }
  const integer = (field: 'bits' | 'page' | 'seq' | 'seed') => {
    const value = request[field];
    const { min, max } = faultLimits[field];
    if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
      throw new EngineError('invalid-argument', `${field} must be an integer from ${min} to ${max}`);
    }
  };
  integer('bits');
  integer('page');
  integer('seq');
  integer('seed');
  if (request.region !== undefined && !memoryRegions.includes(request.region)) {
    throw new EngineError('invalid-argument', `region must be one of ${memoryRegions.join(', ')}`);
  }
  if (request.register !== undefined && !faultRegisters.includes(request.register)) {
    throw new EngineError('invalid-argument', `register must be one of ${faultRegisters.join(', ')}`);
  }
}
