// The REST contract as the dashboard sees it. Settings, spec and telemetry
// types come from the engine's sources, so there is one definition of each.
import type { BackendName, CheckpointMode, CheckpointSettings, PredictorName, VmSpec, VmState } from '@uckpt/engine/config';
import type { TelemetryEvent } from '@uckpt/engine/events';
import type { VmView } from '@uckpt/engine/protocol';
export type { FaultKind, FaultRegister, FaultRequest, Injection, MemoryRegion } from '@uckpt/engine/faults';

export type { BackendName, CheckpointMode, CheckpointSettings, PredictorName, VmSpec, VmState, TelemetryEvent, VmView };
export type {
  AlertEvent,
  CheckpointEvent,
  ConsoleEvent,
  EpochEvent,
  FaultEvent,
  RecoveryEvent,
  RollbackEvent,
  TelemetryType,
  VmStateEvent,
} from '@uckpt/engine/events';

export type Role = 'operator' | 'viewer';

/** A retained checkpoint as the API lists it: the core's own record. */
export type { CheckpointInfo } from '@uckpt/native-core';

export interface TakenCheckpoint {
  seq: number;
  time: number;
  pages: number;
  bytes: number;
  verified: boolean;
}

export type RollbackTarget = number | 'latest' | 'safe';

export interface RollbackResult {
  seq: number;
  pagesRestored: number;
  checkpointsDropped: number;
  durationUs: number;
}

export interface StoredEvent {
  id: number;
  time: number;
  vmId: string;
  type: TelemetryEvent['type'];
  event: TelemetryEvent;
}

export interface AuditEntry {
  id: number;
  time: number;
  role: Role;
  tokenLabel: string;
  action: string;
  target: string | null;
  parameters: unknown;
  result: unknown;
  client: string | null;
}

export interface Workload {
  name: string;
  description: string;
}

export interface CreateVmRequest {
  /** Required, except with `domain`. */
  name?: string;
  /** Required, except with `domain`. */
  workload?: string;
  backend?: BackendName;
  /** Xen only: the domain to attach. */
  domid?: number;
  /** Xen: an existing domain to protect, by name or domid. */
  domain?: string;
  memoryMiB?: number;
  vcpus?: number;
  seed?: number;
  size?: number;
  param?: number;
  repeat?: number;
  settings?: Partial<CheckpointSettings>;
}

/** GET /api/model/availability: the Markov model for one VM. */
export interface Availability {
  availability: number;
  unprotectedAvailability: number;
  downtimeSecondsPerYear: number;
  overheadPct: number;
  overheadBudgetPct: number;
  recommendedIntervalMs: number | null;
  recommendedAvailability: number | null;
  curve: { intervalMs: number; availability: number; overheadPct: number }[];
  states: Record<string, number>;
  parameters: Record<string, { value: number; source: 'default' | 'override' | 'measured' | 'configured' }>;
}

/** GET /api/host: the hypervisor the service uses, and what the host lacks. */
export interface HostInfo {
  hypervisor: 'kvm' | 'xen' | null;
  version: string | null;
  kvmFlavor: 'pvm' | 'hardware' | 'unknown' | null;
  emulated: boolean;
  backends: { kvm: string | null; xen: string | null };
  lacks: string[];
}

/** A Xen host's domain (GET /api/host/domains). */
export interface HostDomain {
  domid: number;
  name: string;
  type: 'pv' | 'pvh' | 'hvm';
  state: 'running' | 'paused' | 'shutdown' | 'crashed' | 'dying';
  shutdownReason: string | null;
  memoryKb: number;
  vcpus: number;
  /** The VM that protects it, or null. */
  protectedBy: string | null;
  /** Why it cannot be protected, or null when it can. */
  refusal: string | null;
}
