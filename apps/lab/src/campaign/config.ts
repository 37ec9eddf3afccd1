// A campaign's configuration: what defines its plan, how its VMs are
// sized and protected. Workload sizes are chosen so that one run takes
// well under a second or two here: a thousand injections must be practical.
import { defaultSettings, type CheckpointSettings } from '@uckpt/engine';
import { campaignFaultKinds, type CampaignFaultKind } from './plan.js';

export interface CampaignConfig {
  n: number;
  seed: number;
  workloads: string[];
  kinds: CampaignFaultKind[];
  /** Each injection runs once per retention, the first being the campaign's own. */
  retentions: number[];
  intervalMs: number;
  hangTimeoutMs: number;
}

/** Input sizes per workload (see `uckpt workloads` for the unit): 0.2-1.1 s on the host. */
export const campaignSizes: Record<string, number> = {
  hashtable: 32,
  sort: 3,
  graph: 256,
  compress: 24,
  dp: 1200,
  dirtier: 32,
};

export const campaignMemoryMiB = 256;
export const campaignWorkloadSeed = 1;

/** The agent samples progress every 250 ms: the heartbeat's bound is its threshold plus two samples. */
const progressSampleMs = 250;

export const campaignDefaults = {
  n: 1000,
  seed: 1,
  kinds: [...campaignFaultKinds],
  intervalMs: defaultSettings.intervalMs,
  // Short, so that a hang costs a campaign little; a healthy run never stalls this long.
  hangTimeoutMs: 300,
} as const;

/**
 * The engine's default settings, with the campaign's hang threshold and a
 * recurrence window just long enough to see a recurrence from the slowest
 * detector (the agent requires it to exceed every detector's latency).
 */
export function campaignSettings(config: Pick<CampaignConfig, 'intervalMs' | 'hangTimeoutMs'>, retention: number): CheckpointSettings {
  const slowest = slowestBoundMs(config);
  return {
    ...defaultSettings,
    intervalMs: config.intervalMs,
    retention,
    hangTimeoutMs: config.hangTimeoutMs,
    recurrenceWindowMs: slowest + 200,
  };
}

/** The largest latency bound the detectors state under these settings, ms. */
export function slowestBoundMs(config: Pick<CampaignConfig, 'hangTimeoutMs'>): number {
  return Math.max(config.hangTimeoutMs + 2 * progressSampleMs, defaultSettings.selfCheckLatencyMs, defaultSettings.crashLatencyMs);
}

/**
 * The retention whose history covers the slowest detector's bound: the
 * oldest checkpoint is (K - 1) intervals older than the newest, and must
 * predate the error (README: retain enough checkpoints to cover the bounds).
 */
export function coveringRetention(config: Pick<CampaignConfig, 'intervalMs' | 'hangTimeoutMs'>): number {
  return Math.ceil(slowestBoundMs(config) / config.intervalMs) + 2;
}
