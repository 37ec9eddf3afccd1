// One validation run, for real: a looping workload in a KVM VM under the
// engine's own agent. The agent's calibration phase runs it unprotected and
// gives the natural progress rate; then, protected, it takes faults at
// exponential inter-arrival times from a seeded random, its detectors find
// them and its recovery rolls back, and what the guest holds at the end is
// the work that was kept.
//
// The unprotected rate is measured again after the protected phase (checkpointing
// switched off), and the two averaged: other load on the host drifts. It can
// also change within the run, which no calibration outside it follows; so the
// guest's progress is also counted over the run's fault-free stretches (no
// fault in flight, its recovery window closed), where it runs at the
// unprotected rate less only the checkpoints' cost.
//
// The fault clock stops while a fault is unsettled (not yet detected, or its
// recovery's recurrence window still open), as the model has errors strike
// only a running VM. Without this, a second fault inside the window is taken
// for a recurrence of the first and sends recovery back past the first one's
// checkpoint, and a rollback can erase a fault injected after the checkpoint
// it returns to: costs of the engine's recurrence rule at error gaps near the
// window, which the model does not describe.
import { seededRandom } from '@uckpt/native-core';
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

interface FaultInFlight {
  kind: ValidationFaultKind;
  /** When the agent injected it; null while the request is on its way. */
  time: number | null;
  /** The first alert after it, and how long after; the detector and the latency bound it stated. */
  alertId: string | null;
  detectionLatencyMs?: number;
  detector?: string;
  latencyBoundMs?: number;
  /** The newest checkpoint taken before the fault (ms, agent clock), and the one the recovery's last rollback went to. */
  checkpointBeforeMs?: number;
  recoveryTargetMs?: number;
  /** When the recovery's last rollback ended (agent clock). */
  lastRollbackAt?: number;
  /** Runs the guest finished after the fault (until the next one), and how many of them with a wrong checksum. */
  runsAfter: number;
  wrongRunsAfter: number;
  /** How the recovery that alert started ended. */
  outcome: 'recovered' | 'failed' | null;
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
  const faults: FaultInFlight[] = [];
  // Checkpoint times by seq as the epochs report them (a rollback reuses the seqs after its target), and in order.
  const checkpointTimes = new Map<number, number>();
  const epochTimes: number[] = [];
  let protectedFrom: { time: number; units: number } | null = null;
  // At most one fault is in flight (see above), so the first alert while it is
  // open is its own. The agent's tracker gives an alert to the oldest pending
  // injection instead, which after a fault that never showed is the wrong one.
  let inFlight: FaultInFlight | null = null;
  agent.on('telemetry', (event: TelemetryEvent) => {
    if (event.type === 'alert' && event.action !== 'none' && inFlight && inFlight.time !== null && inFlight.alertId === null) {
      inFlight.alertId = event.alertId;
      inFlight.detectionLatencyMs = event.time - inFlight.time;
      inFlight.detector = event.detector;
      inFlight.latencyBoundMs = event.latencyBoundMs;
    } else if (event.type === 'recovery' && event.outcome !== 'recurred') {
      const fault = faults.find((f) => f.alertId === event.alertId);
      if (fault) fault.outcome = event.outcome;
    } else if (event.type === 'epoch') {
      checkpointTimes.set(event.seq, event.time);
      epochTimes.push(event.time);
      if (protectedFrom) epochs.push({ time: event.time, intervalMs: event.intervalMs, dirtyPages: event.dirtyPages, pauseUs: event.pauseUs, faults: event.faults, faultUs: event.faultUs });
    } else if (event.type === 'rollback' && event.cause === 'recovery' && event.ok && event.durationUs !== undefined) {
      recoveryRollbacksUs.push(event.durationUs);
      const fault = inFlight;
      if (fault && fault.time !== null && fault.alertId !== null && event.seq !== undefined) {
        const target = checkpointTimes.get(event.seq);
        if (target !== undefined) fault.recoveryTargetMs = target;
        fault.lastRollbackAt = event.time;
        const before = epochTimes.findLast((time) => time <= fault.time!);
        if (before !== undefined) fault.checkpointBeforeMs = before;
      }
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
    // The right checksum: the calibration's runs, before any fault.
    const rightChecksum = agent.status().progress.lastChecksum;
    let runsSeen = agent.status().progress.runsDone;
    const unprotectedRate = ((start.units - booted.units) * 1000) / (start.time - booted.time);
    if (!(unprotectedRate > 0)) throw new Error(`the calibration measured no progress (${agent.state}): lengthen it`);

    const random = seededRandom(setup.seed);
    const gapMs = () => -Math.log(1 - random()) * setup.meanGapSeconds * 1000;
    const endAt = start.time + setup.protectedSeconds * 1000;
    const lastFaultAt = endAt - setup.quietSeconds * 1000;
    let exposedMs = 0;
    let lastPoll = start.time;
    let lastUnits = start.units;
    let cleanMs = 0;
    let cleanUnits = 0;
    let nextGapMs = gapMs();
    let nextReportAt = start.time + reportEveryMs;
    // Settled: its recovery ended, or past the recurrence window (which exceeds every detector's bound) with no alert.
    const settled = (fault: FaultInFlight) =>
      fault.outcome !== null || (fault.time !== null && fault.alertId === null && Date.now() - fault.time > setup.settings.recurrenceWindowMs);
    await until(signal, () => {
      const now = performance.now();
      if (now >= endAt) return true;
      const { runsDone, lastChecksum, units } = agent.status().progress;
      if (inFlight === null && agent.state === 'running' && units >= lastUnits) {
        cleanMs += now - lastPoll;
        cleanUnits += units - lastUnits;
      }
      lastUnits = units;
      if (runsDone > runsSeen && faults.length > 0) {
        const last = faults.at(-1)!;
        last.runsAfter++;
        if (rightChecksum !== null && lastChecksum !== rightChecksum) last.wrongRunsAfter++;
      }
      runsSeen = runsDone;
      if (inFlight && settled(inFlight)) inFlight = null;
      if (inFlight === null) exposedMs += now - lastPoll;
      lastPoll = now;
      if (now >= nextReportAt) {
        nextReportAt += reportEveryMs;
        onProgress({ elapsedSeconds: (now - start.time) / 1000, injected: faults.length, detected: faults.filter((f) => f.alertId).length, units: agent.status().progress.units - start.units });
      }
      if (inFlight === null && exposedMs >= nextGapMs && now < lastFaultAt && agent.state === 'running') {
        const kind = setup.kinds[Math.floor(random() * setup.kinds.length)]!;
        const request = faultRequest(kind, Math.floor(random() * 2 ** 32));
        exposedMs -= nextGapMs;
        nextGapMs = gapMs();
        const fault: FaultInFlight = { kind, time: null, alertId: null, outcome: null, runsAfter: 0, wrongRunsAfter: 0 };
        inFlight = fault;
        agent.inject(request).then(
          (injection) => {
            fault.time = injection.time;
            faults.push(fault);
          },
          () => {
            // Refused (the VM changed state meanwhile): nothing to wait for.
            if (inFlight === fault) inFlight = null;
          },
        );
      }
      return null;
    });
    const unitsKept = agent.status().progress.units - start.units;
    // The host's other load drifts over minutes: the unprotected rate again after the run, and the two averaged.
    const rateAfter = agent.status().state === 'failed' ? null : await unprotectedRateNow(agent, setup.calibrationSeconds, signal);
    const injections: InjectionOutcome[] = faults.map((fault) => ({
      kind: fault.kind,
      time: fault.time!,
      ...(fault.detectionLatencyMs !== undefined && { detectionLatencyMs: fault.detectionLatencyMs }),
      ...(fault.detector !== undefined && { detector: fault.detector }),
      ...(fault.latencyBoundMs !== undefined && { latencyBoundMs: fault.latencyBoundMs }),
      ...(fault.lastRollbackAt !== undefined && { recoveredAfterMs: fault.lastRollbackAt - fault.time! }),
      ...(fault.checkpointBeforeMs !== undefined && fault.recoveryTargetMs !== undefined && { discardedMs: Math.max(0, fault.checkpointBeforeMs - fault.recoveryTargetMs) }),
      recovered: fault.outcome === 'recovered',
      // Detected, or a wrong or no result after it; without the right checksum, unknown and counted as harmful.
      harmful: fault.alertId !== null || rightChecksum === null || fault.runsAfter === 0 || fault.wrongRunsAfter > 0,
      runsAfter: fault.runsAfter,
      wrongRunsAfter: fault.wrongRunsAfter,
    }));
    return {
      unprotectedRate: rateAfter === null ? unprotectedRate : (unprotectedRate + rateAfter) / 2,
      unprotectedRates: rateAfter === null ? [unprotectedRate] : [unprotectedRate, rateAfter],
      protectedSeconds: setup.protectedSeconds,
      cleanStretches: { seconds: cleanMs / 1000, units: cleanUnits },
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

/** Switches checkpointing off and measures the guest's progress rate for this long, units/s. */
async function unprotectedRateNow(agent: VmAgent, seconds: number, signal: AbortSignal | undefined): Promise<number> {
  agent.configure({ enabled: false });
  // The first epochs' leftovers and the switch itself are not part of the rate.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const from = { time: performance.now(), units: agent.status().progress.units };
  const endAt = from.time + seconds * 1000;
  await until(signal, () => (performance.now() >= endAt ? true : null));
  return ((agent.status().progress.units - from.units) * 1000) / (performance.now() - from.time);
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
