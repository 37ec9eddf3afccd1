export type { Detection, Detector, DetectorName, Observation } from './detector.js';
import type { Detector } from './detector.js';
import { CrashDetector, SelfCheckDetector } from './exit-detectors.js';
import { HeartbeatDetector } from './heartbeat.js';
import { IntegrityDetector } from './integrity.js';

export { CrashDetector, HeartbeatDetector, IntegrityDetector, SelfCheckDetector };

/** Every detector the agent runs unless told otherwise. */
export function defaultDetectors(samplePeriodMs: number): Detector[] {
  return [new HeartbeatDetector(samplePeriodMs), new SelfCheckDetector(), new CrashDetector(), new IntegrityDetector()];
}
