// What a campaign will inject, decided before anything runs: for each
// injection a workload, a fault and the moment to inject it, all drawn
// from the campaign's seed. Each injection draws from its own generator
// (seed and index), so the plan's first N items are the same whatever N.
import { seededRandom } from '@uckpt/native-core';
import type { FaultRequest } from '@uckpt/engine';

/** The fault kinds a campaign draws from; a bit flip names its region. */
export const campaignFaultKinds = ['data', 'code', 'stack', 'register', 'hang', 'crash'] as const;
export type CampaignFaultKind = (typeof campaignFaultKinds)[number];

export interface PlanConfig {
  n: number;
  seed: number;
  workloads: readonly string[];
  kinds: readonly CampaignFaultKind[];
}

export interface PlannedInjection {
  index: number;
  workload: string;
  kind: CampaignFaultKind;
  /** When to inject: this share of the run's work done (its progress units against the host run's). */
  moment: number;
  /** Seeds the fault's own choices (page, bit, register). */
  faultSeed: number;
}

/** The injection moment stays clear of the run's start (checkpoints to go back to) and its end (work left for the error to matter). */
const earliestMoment = 0.15;
const latestMoment = 0.75;

export function makePlan({ n, seed, workloads, kinds }: PlanConfig): PlannedInjection[] {
  if (workloads.length === 0) throw new Error('a campaign needs at least one workload');
  if (kinds.length === 0) throw new Error('a campaign needs at least one fault kind');
  return Array.from({ length: n }, (_, index) => {
    const random = seededRandom(mix(seed, index));
    return {
      index,
      // In turn, so that every workload gets its share of a small campaign.
      workload: workloads[index % workloads.length]!,
      kind: kinds[Math.floor(random() * kinds.length)]!,
      moment: round(earliestMoment + (latestMoment - earliestMoment) * random(), 4),
      faultSeed: Math.floor(random() * 2 ** 32),
    };
  });
}

/** The engine's fault request for a planned injection: single-bit flips, the classic soft-error model. */
export function faultRequest(item: PlannedInjection): FaultRequest {
  const seed = item.faultSeed;
  switch (item.kind) {
    case 'data':
    case 'code':
    case 'stack':
      return { kind: 'bit-flip', region: item.kind, bits: 1, seed };
    case 'register':
      return { kind: 'register', bits: 1, seed };
    case 'hang':
      return { kind: 'hang', seed };
    case 'crash':
      return { kind: 'crash', seed };
  }
}

/** A 32-bit seed per (campaign seed, index); splitmix-style so that neighbours differ in every bit. */
function mix(seed: number, index: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
