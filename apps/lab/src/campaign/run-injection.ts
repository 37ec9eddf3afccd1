// One injection, run for real: a finite workload in a KVM VM under the
// engine's own agent (its detectors, its latency-aware recovery), the fault
// injected through the agent when the planned share of the work is done,
// then the run followed to its end or a deadline and classified against
// the host program's checksum.
import { KvmBackend, VmAgent, type AlertEvent, type BackendCheckpoint, type CheckpointSettings, type TelemetryEvent } from '@uckpt/engine';
import { classify, type InjectionRecord, type RecoveryRollback, type RunEnd } from './outcome.js';
import { faultRequest, type PlannedInjection } from './plan.js';

/** The host program's run of a workload: the checksum every VM run must end with, and its work. */
export interface Oracle {
  checksum: string;
  progressUnits: number;
  runtimeMs: number;
}

export interface InjectionSetup {
  settings: CheckpointSettings;
  memoryMiB: number;
  workloadSeed: number;
  size: number;
  oracle: Oracle;
  /** How long the run may go on after the injection before it counts as not finishing. */
  deadlineMs: number;
}

const backend = new KvmBackend();
const pollMs = 2;
/** At the deadline, progress within this long means the guest was still working. */
const progressingWithinMs = 1000;
/** Alerts about checkpointing itself (a warning, an error stopping it) are not detections of the fault. */
const notDetectors = new Set(['checkpointing']);

export async function runInjection(item: PlannedInjection, setup: InjectionSetup, signal?: AbortSignal): Promise<InjectionRecord> {
  const started = performance.now();
  const agent = new VmAgent({
    vmId: `campaign-${item.index}`,
    spec: { name: `campaign-${item.index}`, backend: 'kvm', workload: item.workload, memoryMiB: setup.memoryMiB, vcpus: 1, seed: setup.workloadSeed, size: setup.size, param: 0, repeat: 1 },
    settings: setup.settings,
    backend,
    // No calibration: the campaign does not need the overhead estimate, and checkpoints from the start.
    calibrationMs: 0,
  });
  const log = new RecoveryLog(agent);
  const base = { index: item.index, retention: setup.settings.retention, workload: item.workload, kind: item.kind, moment: item.moment, faultSeed: item.faultSeed, expected: setup.oracle.checksum };
  agent.start();
  try {
    if (agent.state === 'failed') throw new Error(`the VM could not start: ${agent.status().reason}`);
    const target = Math.max(1, Math.round(item.moment * setup.oracle.progressUnits));
    const ready = await until(signal, () => {
      if (isOver(agent.state)) return 'ended';
      const { units } = agent.status().progress;
      return agent.state === 'running' && agent.checkpoints().length > 0 && units >= target ? 'ready' : null;
    });
    const notInjected = (why: string): InjectionRecord => ({
      ...base, outcome: null, why, alerts: 0, falseAlarms: log.alertsBefore(Infinity).length, rollbacks: [],
      end: endOf(agent, false, false), wallMs: performance.now() - started,
    });
    if (ready === 'ended') return notInjected(`the run ended (${agent.state}) before ${Math.round(item.moment * 100)} % of its work`);

    let injection;
    try {
      injection = await agent.inject(faultRequest(item));
    } catch (error) {
      return notInjected(`the fault could not be injected: ${(error as Error).message}`);
    }

    const deadline = Date.now() + setup.deadlineMs;
    let lastUnits = -1;
    let lastAdvance = Date.now();
    const over = await until(signal, () => {
      if (isOver(agent.state)) return 'over';
      const { units } = agent.status().progress;
      if (units !== lastUnits) {
        lastUnits = units;
        lastAdvance = Date.now();
      }
      return Date.now() > deadline ? 'deadline' : null;
    });
    const end = endOf(agent, over === 'deadline', Date.now() - lastAdvance < progressingWithinMs);

    const alerts = log.alertsFrom(injection.time);
    const first = alerts[0];
    const rollbacks = log.recoveryRollbacks(injection.time).map(({ targetTime, ...rollback }) => ({ ...rollback, takenAfterFault: targetTime > injection.time }));
    const { outcome, why } = classify(first !== undefined, end, setup.oracle.checksum);
    return {
      ...base,
      outcome,
      why,
      fault: injection.effect.description,
      ...(first && {
        detection: { detector: first.detector, latencyMs: first.time - injection.time, boundMs: first.latencyBoundMs },
        retainedAtDetection: log.retainedAt(first).length,
      }),
      alerts: alerts.length,
      falseAlarms: log.alertsBefore(injection.time).length,
      rollbacks,
      ...(rollbacks.length > 0 && { recoveryMs: rollbacks.reduce((sum, r) => sum + r.recoveryMs, 0) }),
      end,
      wallMs: performance.now() - started,
    };
  } finally {
    agent.stop();
  }
}

/** Finished, failed or stopped: a crashed guest is still being recovered. */
function isOver(state: string): boolean {
  return state === 'finished' || state === 'failed' || state === 'stopped';
}

function endOf(agent: VmAgent, timedOut: boolean, progressing: boolean): RunEnd {
  const status = agent.status();
  return {
    state: status.state,
    reason: status.reason,
    checksum: status.state === 'finished' ? status.progress.lastChecksum : null,
    timedOut,
    progressing: timedOut && progressing,
  };
}

/** Polls `probe` until it answers; an abort (the campaign interrupted) rejects. */
async function until<T>(signal: AbortSignal | undefined, probe: () => T | null): Promise<T> {
  for (;;) {
    signal?.throwIfAborted();
    const answer = probe();
    if (answer !== null) return answer;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

type LoggedRollback = Omit<RecoveryRollback, 'takenAfterFault'> & { targetTime: number };

/**
 * The agent's alerts and recovery rollbacks, with the checkpoints retained
 * when each alert came: how far past the newest a rollback went is told
 * against what was there to choose from.
 */
class RecoveryLog {
  readonly #agent: VmAgent;
  readonly #alerts: { alert: AlertEvent; retained: BackendCheckpoint[]; recurrence: boolean }[] = [];
  readonly #rollbacks: { alertTime: number; rollback: LoggedRollback }[] = [];
  #recurred = false;

  constructor(agent: VmAgent) {
    this.#agent = agent;
    agent.on('telemetry', (event) => this.#observe(event));
  }

  alertsFrom(time: number): AlertEvent[] {
    return this.#alerts.filter((a) => a.alert.time >= time).map((a) => a.alert);
  }

  alertsBefore(time: number): AlertEvent[] {
    return this.#alerts.filter((a) => a.alert.time < time).map((a) => a.alert);
  }

  retainedAt(alert: AlertEvent): BackendCheckpoint[] {
    return this.#alerts.find((a) => a.alert === alert)?.retained ?? [];
  }

  /** The recovery rollbacks started by alerts from this time on. */
  recoveryRollbacks(from: number): LoggedRollback[] {
    return this.#rollbacks.filter((r) => r.alertTime >= from).map((r) => r.rollback);
  }

  #observe(event: TelemetryEvent): void {
    switch (event.type) {
      case 'alert':
        if (notDetectors.has(event.detector)) return;
        // The recovery announces a recurrence just before it alerts about it.
        this.#alerts.push({ alert: event, retained: this.#agent.checkpoints(), recurrence: this.#recurred && event.action === 'rollback' });
        if (event.action === 'rollback') this.#recurred = false;
        return;
      case 'recovery':
        if (event.outcome === 'recurred') this.#recurred = true;
        return;
      case 'rollback': {
        if (event.cause !== 'recovery' || !event.ok || event.seq === undefined) return;
        const cause = this.#alerts.findLast((a) => a.alert.action === 'rollback');
        if (!cause) return;
        const { alert, retained, recurrence } = cause;
        const target = retained.find((c) => c.seq === event.seq);
        const beforeBound = target !== undefined && target.time <= alert.time - alert.latencyBoundMs;
        const restoreMs = (event.durationUs ?? 0) / 1000;
        const seq = event.seq;
        this.#rollbacks.push({
          alertTime: alert.time,
          rollback: {
            detector: alert.detector,
            seq,
            skipped: retained.filter((c) => c.seq > seq).length,
            targetTime: target?.time ?? Number.NaN,
            reason: recurrence ? 'recurrence' : beforeBound ? 'latency-bound' : 'history-shorter-than-bound',
            recoveryMs: event.time + restoreMs - alert.time,
            restoreMs,
          },
        });
        return;
      }
      default:
        return;
    }
  }
}
