// What the chaos run knows about each of its VMs: what the server
// acknowledged (the VM's id, its settings, the checkpoints taken, rollbacks
// done, a deletion) and the one operation that may have been in flight when
// the server was killed. After a restart the server's word is checked
// against it: an acknowledged change must have survived; an unacknowledged
// one may have happened or not, but nothing else may.
import { isDeepStrictEqual } from 'node:util';

export type Settings = Record<string, unknown>;

export type Operation =
  | { op: 'create'; settings: Settings }
  | { op: 'config'; patch: Settings }
  | { op: 'checkpoint' }
  | { op: 'rollback'; to: number | 'latest' }
  | { op: 'delete' };

export interface ModelVm {
  slot: number;
  name: string;
  /** Known once the create was acknowledged, or once the VM turned up after a restart. */
  id: string | null;
  settings: Settings | null;
  /** Checkpoints that must still be retained. */
  checkpoints: Set<number>;
  /** The agent process last seen serving it: after a restart it must be the same one (same VM, same memory). */
  agent: { pid: number; startTime: number } | null;
  inflight: Operation | null;
  deleted: boolean;
}

export interface SeenVm {
  id: string;
  name: string;
  state: string;
  reason: string | null;
  settings: Settings;
}

/** The settings a VM may show: those acknowledged, or those with the in-flight change applied. */
export function settingsAllowed(vm: ModelVm): Settings[] {
  const allowed = vm.settings ? [vm.settings] : [];
  if (vm.settings && vm.inflight?.op === 'config') allowed.push({ ...vm.settings, ...vm.inflight.patch });
  return allowed;
}

export function settingsMatch(actual: Settings, allowed: Settings[]): boolean {
  return allowed.some((settings) => isDeepStrictEqual(normalize(actual), normalize(settings)));
}

function normalize(settings: Settings): Settings {
  return Object.fromEntries(Object.entries(settings).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * The checkpoints that must be retained whatever happened to the in-flight
 * operation: an unacknowledged rollback may have dropped those after its
 * target, an unacknowledged change of mode may have dropped all.
 */
export function checkpointsRequired(vm: ModelVm): Set<number> {
  const inflight = vm.inflight;
  if (inflight?.op === 'rollback' && typeof inflight.to === 'number') {
    const to = inflight.to;
    return new Set([...vm.checkpoints].filter((seq) => seq <= to));
  }
  if (inflight?.op === 'config' && vm.settings && inflight.patch.mode !== undefined && inflight.patch.mode !== vm.settings.mode) return new Set();
  return vm.checkpoints;
}

/** Required checkpoints missing from `retained`; with retention full, the oldest may have been evicted. */
export function lostCheckpoints(required: Set<number>, retained: number[], retention: number): number[] {
  const present = new Set(retained);
  const oldest = retained.length >= retention ? Math.min(...retained) : -Infinity;
  return [...required].filter((seq) => !present.has(seq) && seq >= oldest).sort((a, b) => a - b);
}

/** A small seeded generator (mulberry32): the same seed, the same run of choices. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A change of settings the sim backend keeps checkpoints through (and, one time in twenty, a change of mode, which drops them). */
export function settingsPatch(rand: () => number): Settings {
  const pick = <T>(options: readonly T[]): T => options[Math.floor(rand() * options.length)]!;
  const candidates: [string, () => unknown][] = [
    ['intervalMs', () => 1000 + Math.floor(rand() * 9001)],
    ['retention', () => 900 + Math.floor(rand() * 125)],
    ['predictor', () => pick(['off', 'history', 'frontier', 'cost'])],
    ['precopy', () => rand() < 0.5],
    ['autoRecover', () => rand() < 0.5],
    ['hangTimeoutMs', () => 500 + Math.floor(rand() * 3500)],
    ['selfCheckLatencyMs', () => Math.floor(rand() * 2000)],
    ['errorRatePerHour', () => pick([0.01, 0.1, 1, 10])],
    ['overheadBudgetPct', () => pick([1, 3, 5, 10])],
  ];
  const patch: Settings = {};
  const fields = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < fields; i++) {
    const [name, value] = pick(candidates);
    patch[name] = value();
  }
  if (rand() < 0.05) patch.mode = pick(['cow', 'stop-and-copy']);
  return patch;
}
