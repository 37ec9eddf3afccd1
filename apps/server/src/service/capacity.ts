// How much the service may take on: a number of VMs, and memory for their
// guest RAM and checkpoint stores. A VM that would not fit is refused before
// anything starts, with how much is missing; an agent that runs the host out
// of memory would take every VM on it down with it.
import { readFileSync } from 'node:fs';
import { EngineError, type VmSpec } from '@uckpt/engine';

export interface CapacityLimits {
  maxVms: number;
  /** What all VMs may commit together, MiB; null: 80 % of the host's memory. */
  memoryBudgetMiB: number | null;
}

export const defaultCapacity: CapacityLimits = { maxVms: 32, memoryBudgetMiB: null };

/** The page store's default bound is 1.5 x guest RAM (packages/native-kvm, storeMiB). */
const storeShare = 1.5;
/** Left to the host beside a new VM, in MiB, whatever the budget says. */
const hostReserveMiB = 256;

export interface MemoryNeed {
  guestMiB: number;
  storeMiB: number;
  totalMiB: number;
}

/** What a VM commits: its guest RAM (a Xen domain's is its toolstack's) and its checkpoint store's bound. */
export function memoryNeed(spec: VmSpec): MemoryNeed {
  const guestMiB = spec.backend === 'xen' ? 0 : spec.memoryMiB;
  const storeMiB = Math.ceil(spec.memoryMiB * storeShare);
  return { guestMiB, storeMiB, totalMiB: guestMiB + storeMiB };
}

export interface HostMemory {
  totalMiB: number;
  availableMiB: number;
}

export function hostMemory(meminfo = readFileSync('/proc/meminfo', 'utf8')): HostMemory {
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(meminfo)?.[1] ?? NaN) / 1024;
  return { totalMiB: Math.floor(field('MemTotal')), availableMiB: Math.floor(field('MemAvailable')) };
}

/**
 * Refuses (conflict, 409) a new VM that would pass the VM count, the memory
 * budget counted over the live VMs' commitments, or what the host has free now.
 */
export function checkCapacity(live: readonly VmSpec[], spec: VmSpec, limits: CapacityLimits, host: HostMemory): void {
  if (live.length >= limits.maxVms) {
    throw new EngineError('conflict', `this server protects ${live.length} VMs, its limit (--max-vms ${limits.maxVms}); delete one first`);
  }
  const need = memoryNeed(spec);
  const needs = `needs ${need.totalMiB} MiB (${need.guestMiB} MiB guest RAM + ${need.storeMiB} MiB checkpoint store)`;
  const budget = limits.memoryBudgetMiB ?? Math.floor(host.totalMiB * 0.8);
  const committed = live.reduce((sum, other) => sum + memoryNeed(other).totalMiB, 0);
  if (committed + need.totalMiB > budget) {
    const short = committed + need.totalMiB - budget;
    throw new EngineError(
      'conflict',
      `the VM ${needs}, but ${committed} MiB of the ${budget} MiB memory budget are committed to ${live.length} VMs: ${short} MiB short (see --memory-budget-mib)`,
    );
  }
  const free = host.availableMiB - hostReserveMiB;
  if (need.totalMiB > free) {
    throw new EngineError('conflict', `the VM ${needs}, but the host has ${host.availableMiB} MiB available (keeping ${hostReserveMiB} MiB for itself): ${need.totalMiB - free} MiB short`);
  }
}
