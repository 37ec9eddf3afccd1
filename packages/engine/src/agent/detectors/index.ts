export type { Detection, Detector, DetectorName, Observation } from './detector.js';
import type { CheckpointSettings } from '../../config.js';
import type { Detector, DetectorName } from './detector.js';
import { ConsoleDetector } from './console.js';
import { CrashDetector, SelfCheckDetector } from './exit-detectors.js';
import { HeartbeatDetector } from './heartbeat.js';
import { IntegrityDetector } from './integrity.js';
import { VcpuProgressDetector } from './vcpu-progress.js';

export { ConsoleDetector, CrashDetector, HeartbeatDetector, IntegrityDetector, SelfCheckDetector, VcpuProgressDetector };

/**
 * The latency bound each default detector states under these settings,
 * with progress sampled every `samplePeriodMs`, ms: one definition for the
 * agent, the settings' own check and the model. (The period is passed in:
 * config, which defines it, calls this, and must not be imported back.)
 */
export function detectorBoundsMs(settings: CheckpointSettings, samplePeriodMs: number): Partial<Record<DetectorName, number>> {
  return Object.fromEntries(defaultDetectors(samplePeriodMs).map((d) => [d.name, d.latencyBoundMs(settings)]));
}

/** Every detector the agent runs unless told otherwise. */
export function defaultDetectors(samplePeriodMs: number): Detector[] {
  return [new HeartbeatDetector(samplePeriodMs), new SelfCheckDetector(), new CrashDetector(), new ConsoleDetector(), new VcpuProgressDetector(samplePeriodMs), new IntegrityDetector()];
}
