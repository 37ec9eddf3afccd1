// What a campaign measured, per retention: the classes, coverage with its
// 95 % confidence interval, detection latency, recovery time, and how many
// recovery rollbacks went past the newest checkpoint and why.
import { percentiles } from '@uckpt/native-core';
import type { BeyondNewestReason, InjectionRecord, OutcomeClass } from './outcome.js';
import { campaignFaultKinds, type CampaignFaultKind } from './plan.js';

export interface Proportion {
  value: number | null;
  /** Wilson score interval at 95 %; null with no trials. */
  ci95: [number, number] | null;
  successes: number;
  trials: number;
}

export interface ClassCounts {
  injections: number;
  notActivated: number;
  detected: number;
  recovered: number;
  detectedNotRecovered: number;
  silentWrong: number;
  undetectedHang: number;
}

export interface RetentionSummary extends ClassCounts {
  retention: number;
  /** Planned injections at this retention whose fault could not be placed (not counted in `injections`). */
  notInjected: number;
  /** Recovered / detected. */
  coverage: number | null;
  coverageCi95: [number, number] | null;
  /** Detected / activated (every injection but the not-activated ones). */
  detectionCoverage: Proportion;
  /** Detected errors whose run still finished with a wrong checksum: the target is 0. */
  detectedWrongResult: number;
  detectionLatencyMs: { p50: number; p99: number };
  /** Per detector: how often it caught an error first, and its latency. */
  byDetector: Record<string, { count: number; latencyMs: { p50: number; p99: number } }>;
  /** Alert to running again, per injection (all its recovery rollbacks). */
  recoveryMs: { p50: number; p99: number };
  /** The in-place restores alone, per rollback. */
  restoreMs: { p50: number; p99: number };
  recoveryRollbacks: number;
  /** Recovery rollbacks to a checkpoint taken after the fault: the bound did not reach back far enough (or the history did not). */
  rollbacksToFaultyCheckpoint: number;
  beyondNewest: { rollbacks: number; checkpointsSkipped: { p50: number; max: number }; why: Record<BeyondNewestReason, number> };
  falseAlarms: number;
  byKind: Partial<Record<CampaignFaultKind, ClassCounts>>;
}

const classField: Record<OutcomeClass, keyof ClassCounts> = {
  'not-activated': 'notActivated',
  recovered: 'recovered',
  'detected-not-recovered': 'detectedNotRecovered',
  'silent-wrong': 'silentWrong',
  'undetected-hang': 'undetectedHang',
};

export function summarise(records: readonly InjectionRecord[], retention: number): RetentionSummary {
  const mine = records.filter((r) => r.retention === retention);
  const injected = mine.filter((r) => r.outcome !== null);
  const counts = countClasses(injected);
  const detections = injected.filter((r) => r.detection);
  const rollbacks = injected.flatMap((r) => r.rollbacks);
  const beyond = rollbacks.filter((r) => r.skipped > 0);
  const why: Record<BeyondNewestReason, number> = { 'latency-bound': 0, 'history-shorter-than-bound': 0, recurrence: 0 };
  for (const r of beyond) why[r.reason]++;
  const coverage = proportion(counts.recovered, counts.detected);
  const byKind: Partial<Record<CampaignFaultKind, ClassCounts>> = {};
  for (const kind of campaignFaultKinds) {
    const ofKind = injected.filter((r) => r.kind === kind);
    if (ofKind.length) byKind[kind] = countClasses(ofKind);
  }
  return {
    retention,
    ...counts,
    notInjected: mine.length - injected.length,
    coverage: coverage.value,
    coverageCi95: coverage.ci95,
    detectionCoverage: proportion(counts.detected, counts.injections - counts.notActivated),
    detectedWrongResult: injected.filter((r) => r.outcome === 'detected-not-recovered' && r.end.checksum !== null).length,
    detectionLatencyMs: percentiles(detections.map((r) => r.detection!.latencyMs)),
    byDetector: byDetector(detections),
    recoveryMs: percentiles(injected.flatMap((r) => (r.recoveryMs !== undefined ? [r.recoveryMs] : []))),
    restoreMs: percentiles(rollbacks.map((r) => r.restoreMs)),
    recoveryRollbacks: rollbacks.length,
    rollbacksToFaultyCheckpoint: rollbacks.filter((r) => r.takenAfterFault).length,
    beyondNewest: {
      rollbacks: beyond.length,
      checkpointsSkipped: { p50: percentiles(beyond.map((r) => r.skipped)).p50, max: Math.max(0, ...beyond.map((r) => r.skipped)) },
      why,
    },
    falseAlarms: mine.reduce((sum, r) => sum + r.falseAlarms, 0),
    byKind,
  };
}

function countClasses(records: readonly InjectionRecord[]): ClassCounts {
  const counts: ClassCounts = { injections: 0, notActivated: 0, detected: 0, recovered: 0, detectedNotRecovered: 0, silentWrong: 0, undetectedHang: 0 };
  for (const record of records) {
    if (record.outcome === null) continue;
    counts.injections++;
    counts[classField[record.outcome]]++;
  }
  counts.detected = counts.recovered + counts.detectedNotRecovered;
  return counts;
}

function byDetector(detections: readonly InjectionRecord[]): RetentionSummary['byDetector'] {
  const out: RetentionSummary['byDetector'] = {};
  const names = [...new Set(detections.map((r) => r.detection!.detector))].sort();
  for (const name of names) {
    const ofIt = detections.map((r) => r.detection!).filter((d) => d.detector === name);
    out[name] = {
      count: ofIt.length,
      latencyMs: percentiles(ofIt.map((d) => d.latencyMs)),
    };
  }
  return out;
}

export function proportion(successes: number, trials: number): Proportion {
  if (trials === 0) return { value: null, ci95: null, successes, trials };
  return { value: successes / trials, ci95: wilson(successes, trials), successes, trials };
}

/**
 * The Wilson score interval at 95 %: unlike the normal approximation it
 * stays inside [0, 1] and is honest at proportions near 1 with few trials
 * (e.g. 50 of 50 recovered gives [0.93, 1], not [1, 1]).
 */
export function wilson(successes: number, trials: number, z = 1.959964): [number, number] {
  const p = successes / trials;
  const z2 = z * z;
  const denominator = 1 + z2 / trials;
  const centre = (p + z2 / (2 * trials)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  // At 0 or 100 % the matching end is exactly 0 or 1 (rounding would leave 0.9999999999999999).
  return [successes === 0 ? 0 : Math.max(0, centre - half), successes === trials ? 1 : Math.min(1, centre + half)];
}
