// One validation run, for real: a looping workload in a KVM VM under the
// engine's own agent. The agent's calibration phase runs it unprotected and
// gives the natural progress rate; then, protected, it takes faults at
// exponential inter-arrival times from a seeded random, its detectors find
// them and its recovery rolls back, and what the guest holds at the end is
// the work that was kept.
import { seededRandom } from '@uckpt/native-kvm';
import { KvmBackend, VmAgent, type CheckpointSettings, type FaultRequest, type TelemetryEvent } from '@uckpt/engine';
import type { EpochSample, InjectionOutcome, RunRecord } from './fit.js';

/** What a validation injects: faults the detectors are built to find. A data flip names the workload's arena. */
export const validationFaultKinds = ['hang', 'crash', 'data'] as const;
export type ValidationFaultKind = (typeof validationFaultKinds)[number];

export interface ValidationSetup {
  workload: string;
  size: number;
  memoryMiB: number;
  workloadSeed: number;
  settings: CheckpointSettings;
  calibrationSeconds: number;
  protectedSeconds: number;
  meanGapSeconds: number;
  kinds: readonly ValidationFaultKind[];
  seed: number;
  /** No fault in this last stretch, so that the last ones are detected and recovered before the end is read. */
  quietSeconds: number;
}

export interface ProgressReport {
  elapsedSeconds: number;
  injected: number;
  detected: number;
  units: number;
}

const backend = new KvmBackend();
const reportEveryMs = 10_000;

export async function runValidation(setup: ValidationSetup, onProgress: (report: ProgressReport) => void, signal?: AbortSignal): Promise<RunRecord> {
  const agent = new VmAgent({
    vmId: 'validation',
    spec: { name: 'validation', backend: 'kvm', workload: setup.workload, memoryMiB: setup.memoryMiB, vcpus: 1, seed: setup.workloadSeed, size: setup.size, param: 0, repeat: 0 },
    settings: setup.settings,
    backend,
    calibrationMs: Math.round(setup.calibrationSeconds * 1000),
  });
  const epochs: EpochSample[] = [];
  const recoveryRollbacksUs: number[] = [];
  let protectedFrom: { time: number; units: number } | null = null;
  agent.on('telemetry', (event: TelemetryEvent) => {
    if (event.type === 'epoch' && protectedFrom) {
      epochs.push({ time: event.time, intervalMs: event.intervalMs, dirtyPages: event.dirtyPages, pauseUs: event.pauseUs, faults: event.faults, faultUs: event.faultUs });
    } else if (event.type === 'rollback' && event.cause === 'recovery' && event.ok && event.durationUs !== undefined) {
      recoveryRollbacksUs.push(event.durationUs);
    } else if (event.type === 'vm-state' && event.state === 'running' && !protectedFrom) {
      // The calibration is over: from here the VM is protected.
      protectedFrom = { time: performance.now(), units: agent.status().progress.units };
    }
  });

  agent.start();
  try {
    if (agent.state === 'failed') throw new Error(`the VM could not start: ${agent.status().reason}`);
    // The calibration rate is counted from the first unit of work, so that the boot is not in it.
    const booted = await until(signal, () => (agent.status().progress.units > 0 ? { time: performance.now(), units: agent.status().progress.units } : null));
    const start = await until(signal, () => protectedFrom);
    const unprotectedRate = ((start.units - booted.units) * 1000) / (start.time - booted.time);
    if (!(unprotectedRate > 0)) throw new Error(`the calibration measured no progress (${agent.state}): lengthen it`);

    const random = seededRandom(setup.seed);
    const gapMs = () => -Math.log(1 - random()) * setup.meanGapSeconds * 1000;
    const endAt = start.time + setup.protectedSeconds * 1000;
    const lastFaultAt = endAt - setup.quietSeconds * 1000;
    const injectionIds: string[] = [];
    let nextFaultAt = start.time + gapMs();
    let nextReportAt = start.time + reportEveryMs;
    await until(signal, () => {
      const now = performance.now();
      if (now >= endAt) return true;
      if (now >= nextReportAt) {
        nextReportAt += reportEveryMs;
        const injections = agent.injections();
        onProgress({ elapsedSeconds: (now - start.time) / 1000, injected: injections.length, detected: injections.filter((i) => i.detection).length, units: agent.status().progress.units - start.units });
      }
      if (now >= nextFaultAt && nextFaultAt < lastFaultAt && agent.state !== 'failed') {
        // Faults arrive at their own times whatever the VM is doing; the agent queues one behind a recovery.
        const request = faultRequest(setup.kinds[Math.floor(random() * setup.kinds.length)]!, Math.floor(random() * 2 ** 32));
        nextFaultAt += gapMs();
        agent.inject(request).then((injection) => injectionIds.push(injection.id), () => undefined);
      }
      return null;
    });
    const unitsKept = agent.status().progress.units - start.units;
    const byId = new Map(agent.injections().map((injection) => [injection.id, injection]));
    const injections: InjectionOutcome[] = injectionIds.flatMap((id) => {
      const injection = byId.get(id);
      if (!injection) return [];
      const kind = injection.request.kind === 'bit-flip' ? injection.request.region ?? 'data' : injection.request.kind;
      return [{
        kind,
        time: injection.time,
        ...(injection.detection && { detectionLatencyMs: injection.detection.latencyMs }),
        recovered: injection.recovery?.outcome === 'recovered',
      }];
    });
    return {
      unprotectedRate,
      protectedSeconds: setup.protectedSeconds,
      unitsKept,
      intervalMs: setup.settings.intervalMs,
      retention: setup.settings.retention,
      injections,
      epochs,
      recoveryRollbacksUs,
      failure: agent.status().state === 'failed' ? agent.status().reason : null,
    };
  } finally {
    agent.stop();
  }
}

function faultRequest(kind: ValidationFaultKind, seed: number): FaultRequest {
  switch (kind) {
    case 'hang':
      return { kind: 'hang', seed };
    case 'crash':
      return { kind: 'crash', seed };
    case 'data':
      return { kind: 'bit-flip', region: 'data', bits: 1, seed };
  }
}

/** Polls `probe` every few milliseconds until it answers; an abort (Ctrl-C) rejects. */
async function until<T>(signal: AbortSignal | undefined, probe: () => T | null): Promise<T> {
  for (;;) {
    signal?.throwIfAborted();
    const answer = probe();
    if (answer !== null) return answer;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
