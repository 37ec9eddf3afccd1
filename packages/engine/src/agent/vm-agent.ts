// One protected VM and everything the engine decides about it: when it is
// calibrated, how it is checkpointed, what its detectors see, which
// checkpoint a rollback or a recovery goes to. It turns the backend's raw
// records into typed telemetry events.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { nsToUs, type EpochRecord } from '@uckpt/native-core';
import type { Backend, BackendCheckpoint, BackendExit, BackendRollback, BackendVm, VcpuActivity } from '../backend.js';
import { checkSettings, progressSampleMs, type CheckpointSettings, type VmSpec, type VmState } from '../config.js';
import { EngineError } from '../errors.js';
import type { AlertEvent, EpochEvent, RollbackCause, TelemetryEvent } from '../events.js';
import { checkFaultRequest, type FaultRequest, type Injection } from '../faults.js';
import { protocolVersion, type AgentStatus, type RollbackTarget } from '../protocol.js';
import { defaultDetectors, type Detection, type Detector } from './detectors/index.js';
import { processIdentity } from '../process-identity.js';
import { AutoTuner } from './auto-tune.js';
import { ConsoleGate } from './console-gate.js';
import { FaultTracker } from './fault-tracker.js';
import { LostTimeMeter } from './lost-time-meter.js';
import { ProgressMeter } from './progress-meter.js';
import { chooseRecoveryTarget, explainNoTarget, RecoveryEpisodes, type TargetConstraints } from './recovery.js';

export interface VmAgentOptions {
  vmId: string;
  spec: VmSpec;
  settings: CheckpointSettings;
  backend: Backend;
  /** How long the guest runs unprotected at start to measure its natural progress rate. */
  calibrationMs?: number;
  /** The detectors to run; default every one (heartbeat, self-check, crash, console, vCPU progress, checkpoint integrity). */
  detectors?: Detector[];
}

interface VmAgentEvents {
  telemetry: [event: TelemetryEvent];
}

const consoleLines = 1000;
const overheadWindowMs = 5000;
const terminalStates = new Set<VmState>(['finished', 'crashed', 'failed', 'stopped']);
/** A crashed guest can still be rolled back (revived); these cannot. */
const beyondRollback = new Set<VmState>(['finished', 'failed', 'stopped']);

export class VmAgent extends EventEmitter<VmAgentEvents> {
  readonly vmId: string;
  readonly spec: VmSpec;
  #settings: CheckpointSettings;
  #applied: CheckpointSettings | null = null;
  readonly #backend: Backend;
  readonly #calibrationMs: number;
  #vm: BackendVm | null = null;
  #state: VmState = 'starting';
  #reason: string | null = null;
  readonly #startedAt = Date.now();
  readonly #meter = new ProgressMeter();
  /** Workloads move through phases of different speed: overhead compares rates over a longer window. */
  readonly #overheadMeter = new ProgressMeter(overheadWindowMs);
  #calibratedRate: number | null = null;
  /** Calibrated rate / current rate - 1: secondary, as it swings with the guest's own speed. */
  #overheadCalibratedPct: number | null = null;
  /** What an operator reads as the overhead: time lost to checkpointing (lost-time-meter.ts). */
  readonly #lostTime = new LostTimeMeter();
  #overheadPct: number | null = null;
  #epochs = 0;
  #lastEpoch: EpochRecord | null = null;
  #lastCheckpointTime: number | null = null;
  #console: string[] = [];
  #consoleUnobserved: string[] = [];  // for the detectors' next look
  #sampler: NodeJS.Timeout | undefined;
  #calibration: NodeJS.Timeout | undefined;
  #busy: Promise<unknown> = Promise.resolve();
  readonly #detectors: Detector[];
  readonly #faults: FaultTracker;
  readonly #recovery: RecoveryEpisodes;
  readonly #tuner = new AutoTuner();
  readonly #consoleGate = new ConsoleGate();
  readonly #identity = processIdentity();

  constructor(options: VmAgentOptions) {
    super();
    this.vmId = options.vmId;
    this.spec = options.spec;
    this.#settings = { ...options.settings };
    this.#backend = options.backend;
    this.#calibrationMs = options.calibrationMs ?? 2000;
    this.#detectors = options.detectors ?? defaultDetectors(progressSampleMs);
    this.#faults = new FaultTracker(this.vmId, (injection) => this.#emit({ type: 'fault', vmId: this.vmId, time: Date.now(), injection }));
    this.#recovery = new RecoveryEpisodes({
      vmId: this.vmId,
      unrecoverable: () => (!this.#vm || beyondRollback.has(this.#state) ? `the VM is ${this.#state}: nothing to recover` : null),
      checkpoints: () => this.#vm?.checkpoints() ?? [],
      recurrenceWindowMs: () => this.#settings.recurrenceWindowMs,
      rollback: (seq) => (this.#vm ? this.#rollbackInPlace(this.#vm, seq, 'recovery') : Promise.reject(new EngineError('conflict', 'the VM is gone'))),
      reportCorruptCheckpoints: () => {
        const corrupt = this.#observe().filter((d) => d.detector === 'checkpoint-integrity');
        for (const detection of corrupt) this.#onDetection(detection);
        return corrupt.length > 0;
      },
      emit: (event) => this.#emit(event),
      settle: (alertId, outcome, rollbacks, seq, message) => this.#faults.settle(alertId, outcome, rollbacks, seq, message),
      fail: (reason) => this.#setState('failed', reason),
    });
  }

  get state(): VmState {
    return this.#state;
  }

  /** Creates and boots the VM, runs it unprotected to calibrate, then protects it. */
  start(): void {
    let vm: BackendVm;
    try {
      vm = this.#backend.createVm(this.spec);
    } catch (error) {
      // The agent stays up in `failed` so that whoever started it can ask why.
      this.#setState('failed', (error as Error).message);
      return;
    }
    this.#vm = vm;
    vm.on('epoch', (epoch) => this.#onEpoch(epoch));
    vm.on('console', (line) => this.#onConsole(line));
    vm.on('exit', (exit) => this.#onExit(exit));
    vm.on('checkpoint-error', (message) => {
      this.#settings = { ...this.#settings, enabled: false };
      this.#applied = this.#settings;
      this.#emit({ type: 'alert', alertId: newAlertId(), vmId: this.vmId, time: Date.now(), detector: 'checkpointing', message, evidence: {}, latencyBoundMs: 0, action: 'none' });
    });
    vm.on('checkpoint-warning', (message) => {
      this.#emit({ type: 'alert', alertId: newAlertId(), vmId: this.vmId, time: Date.now(), detector: 'checkpointing', message, evidence: { asked: this.#settings.mode }, latencyBoundMs: 0, action: 'none' });
    });
    vm.start();
    this.#startSampler();
    this.#setState('calibrating', null);
    this.#calibration = setTimeout(() => this.#finishCalibration(), this.#calibrationMs);
  }

  status(): AgentStatus {
    const checkpoints = this.#checkpointsOrEmpty();
    const progress = this.#vm?.progress() ?? { units: 0, runsDone: 0, lastChecksum: null };
    return {
      vmId: this.vmId,
      pid: process.pid,
      startTime: this.#identity?.startTime ?? 0,
      protocol: protocolVersion,
      spec: this.spec,
      settings: { ...this.#settings },
      state: this.#state,
      reason: this.#reason,
      simulated: this.#backend.simulated,
      startedAt: this.#startedAt,
      progress: { ...progress, rate: this.#meter.rate },
      calibratedRate: this.#calibratedRate,
      overheadPct: this.#overheadPct,
      overheadCalibratedPct: this.#overheadCalibratedPct,
      lastCheckpointTime: checkpoints.at(-1)?.time ?? this.#lastCheckpointTime,
      checkpointsRetained: checkpoints.length,
      storeBytes: this.#lastEpoch?.storeBytes ?? checkpoints.reduce((sum, c) => sum + c.bytes, 0),
      epochs: this.#epochs,
    };
  }

  /** Applies a change of settings; answers with the settings now in force. */
  configure(patch: Partial<CheckpointSettings>): CheckpointSettings {
    const next = { ...this.#settings, ...patch };
    checkSettings(next);
    this.#requireLive();
    if (this.#state !== 'calibrating') this.#apply(next);
    // An interval set by hand, or auto-tune switched on: the tuner judges it afresh.
    if (patch.intervalMs !== undefined || (next.autoTune && !this.#settings.autoTune)) this.#tuner.restart(Date.now());
    this.#settings = next;
    return { ...next };
  }

  checkpointNow(): Promise<BackendCheckpoint> {
    return this.#exclusive(async () => {
      const vm = this.#requireLive();
      if (!this.#applied?.enabled) throw new EngineError('conflict', this.#state === 'calibrating' ? 'the VM is still calibrating; checkpointing starts in a moment' : 'checkpointing is disabled');
      const seq = await vm.checkpointNow();
      const checkpoint = vm.checkpoints().find((c) => c.seq === seq);
      if (!checkpoint) throw new EngineError('internal', `checkpoint ${seq} was taken but is not retained`);
      this.#lastCheckpointTime = checkpoint.time;
      this.#emit({ type: 'checkpoint', vmId: this.vmId, time: checkpoint.time, seq, pages: checkpoint.pages, bytes: checkpoint.bytes, manual: true });
      return checkpoint;
    });
  }

  rollback(to: RollbackTarget, cause: RollbackCause = 'operator'): Promise<BackendRollback> {
    return this.#exclusive(async () => {
      const vm = this.#requireRollbackable();
      let target: number | 'latest';
      try {
        target = to === 'safe' ? this.#safeTarget(vm) : to;
      } catch (error) {
        this.#emit({ type: 'rollback', vmId: this.vmId, time: Date.now(), target: to, cause, ok: false, error: (error as Error).message });
        throw error;
      }
      return this.#rollbackInPlace(vm, target, cause, to);
    });
  }

  /** Injects a fault into the guest (or its checkpoints) and tracks what becomes of it. */
  async inject(request: FaultRequest): Promise<Injection> {
    checkFaultRequest(request);
    return this.#exclusive(async () => {
      const vm = this.#requireLive();
      const time = Date.now();
      let effect;
      try {
        effect = await vm.inject(request);
      } catch (error) {
        throw error instanceof EngineError ? error : new EngineError('invalid-argument', (error as Error).message);
      }
      return this.#faults.record(request, effect, time);
    });
  }

  /** The injections made into this VM, oldest first, with their outcomes. */
  injections(): Injection[] {
    return this.#faults.list();
  }

  checkpoints(): BackendCheckpoint[] {
    return this.#checkpointsOrEmpty();
  }

  consoleTail(lines = 100): string[] {
    return this.#console.slice(-Math.max(0, lines));
  }

  /** Stops the guest and releases the VM; the agent has nothing left to do after. */
  stop(): void {
    this.#stopSampler();
    clearTimeout(this.#calibration);
    this.#recovery.dispose();
    const vm = this.#vm;
    this.#vm = null;
    if (vm) {
      vm.removeAllListeners('exit');
      vm.destroy();
    }
    if (!terminalStates.has(this.#state)) this.#setState('stopped', 'stopped by request');
  }

  #finishCalibration(): void {
    if (terminalStates.has(this.#state)) return;
    this.#sampleProgress();
    this.#calibratedRate = this.#overheadMeter.rate > 0 ? this.#overheadMeter.rate : null;
    this.#overheadMeter.reset();
    try {
      this.#apply(this.#settings);
      this.#setState('running', null);
    } catch (error) {
      this.#setState('failed', `checkpointing could not start: ${(error as Error).message}`);
    }
  }

  #apply(next: CheckpointSettings): void {
    const vm = this.#requireLive();
    try {
      vm.applySettings(next, this.#applied);
    } catch (error) {
      throw error instanceof EngineError ? error : new EngineError('invalid-argument', (error as Error).message);
    }
    this.#applied = { ...next };
  }

  /**
   * "safe": what a recovery would choose if an error were detected now by
   * the slowest detector, i.e. the newest verified checkpoint that no error
   * still undetected can have reached (and, during a recovery, older than
   * the checkpoint it went to).
   */
  #safeTarget(vm: BackendVm): number {
    const slowest = Math.max(0, ...this.#detectors.map((d) => d.latencyBoundMs(this.#settings)));
    const constraints: TargetConstraints = { notAfter: Date.now() - slowest, ...(this.#recovery.lastSeq ? { olderThan: this.#recovery.lastSeq } : {}) };
    const target = chooseRecoveryTarget(vm.checkpoints(), constraints);
    if (!target) throw new EngineError('rollback-refused', `no safe checkpoint: ${explainNoTarget(vm.checkpoints(), constraints)}`);
    return target.checkpoint.seq;
  }

  /** Rolls back and brings the agent's view along: meters, detectors, a revived guest. */
  async #rollbackInPlace(vm: BackendVm, target: number | 'latest', cause: RollbackCause, asked: RollbackTarget = target): Promise<BackendRollback> {
    const time = Date.now();
    let result: BackendRollback;
    try {
      result = await vm.rollback(target);
    } catch (error) {
      const engineError = error instanceof EngineError ? error : new EngineError('rollback-refused', (error as Error).message);
      this.#emit({ type: 'rollback', vmId: this.vmId, time, target: asked, cause, ok: false, error: engineError.message });
      throw engineError;
    }
    this.#meter.reset();
    this.#overheadMeter.reset();
    this.#consoleUnobserved = [];  // printed by the guest that was rolled back
    for (const detector of this.#detectors) detector.reset(Date.now());
    this.#tuner.observeRollback(nsToUs(result.durationNs));
    this.#emit({
      type: 'rollback', vmId: this.vmId, time, target: asked, cause, ok: true, seq: result.seq,
      pagesRestored: result.pagesRestored, checkpointsDropped: result.checkpointsDropped, durationUs: nsToUs(result.durationNs),
    });
    if (this.#state === 'crashed') {
      this.#setState('running', null);
      this.#startSampler();
    }
    return result;
  }

  #onExit(exit: BackendExit): void {
    this.#setState(exit.state, exit.reason);
    if (exit.cause === 'done' || exit.cause === 'stopped') {
      this.#recovery.end('recovered', exit.cause === 'done' ? 'the workload finished' : 'the VM stopped');
      this.#faults.closePending();
      return;
    }
    const detections = this.#observe(exit);
    if (detections.length === 0) this.#faults.closePending();
    for (const detection of detections) this.#onDetection(detection);
  }

  /** Runs every detector over what is observable now. */
  #observe(exit?: BackendExit): Detection[] {
    const vm = this.#vm;
    if (!vm) return [];
    const observation = {
      now: Date.now(),
      state: this.#state,
      progress: vm.progress(),
      consoleLines: this.#consoleUnobserved.splice(0),
      vcpus: this.#vcpuActivity(vm),
      checkpoints: this.#applied?.enabled ? vm.checkpoints() : [],
      settings: this.#settings,
      ...(exit ? { exit } : {}),
    };
    return this.#detectors.flatMap((detector) => detector.observe(observation));
  }

  #vcpuActivity(vm: BackendVm): VcpuActivity[] | null {
    try {
      return vm.vcpuActivity?.() ?? null;
    } catch {
      return null;  // the guest is going away: its state says the rest
    }
  }

  #onDetection(detection: Detection): void {
    const id = newAlertId();
    const injection = this.#faults.attribute(id, detection);
    const alert: Omit<AlertEvent, 'action'> = {
      type: 'alert', alertId: id, vmId: this.vmId, time: detection.time, detector: detection.detector, message: detection.message,
      evidence: detection.evidence, latencyBoundMs: detection.latencyBoundMs, ...(injection ? { injectionId: injection.id } : {}),
    };
    if (!detection.recoverable) {
      this.#emit({ ...alert, action: 'none', actionReason: 'the guest is not affected; the checkpoint is excluded from rollbacks' });
      return;
    }
    if (!this.#settings.autoRecover) {
      this.#emit({ ...alert, action: 'none', actionReason: 'automatic recovery is off for this VM: alert only' });
      this.#faults.settle(id, 'alert-only', 0, undefined, 'automatic recovery is off');
      return;
    }
    void this.#exclusive(() => this.#recovery.recover(alert, detection));
  }

  #onEpoch(epoch: EpochRecord): void {
    this.#epochs++;
    this.#lastEpoch = epoch;
    this.#lastCheckpointTime = epoch.time;
    this.#sampleProgress();
    const rate = this.#meter.rate;
    const sustainedRate = this.#overheadMeter.rate;
    if (this.#calibratedRate && sustainedRate > 0 && this.#overheadMeter.spanMs >= 1000) {
      this.#overheadCalibratedPct = (this.#calibratedRate / sustainedRate - 1) * 100;
    }
    this.#lostTime.observe(epoch.time, nsToUs(epoch.pauseNs + epoch.faultNsEstimate));
    this.#overheadPct = this.#lostTime.overheadPct;
    const intervalMs = this.#applied?.intervalMs ?? this.#settings.intervalMs;
    this.#tuner.observeEpoch({ time: epoch.time, intervalMs, dirtyPages: epoch.dirtyPages, pauseUs: nsToUs(epoch.pauseNs), faultUs: nsToUs(epoch.faultNsEstimate) });
    const event: EpochEvent = {
      type: 'epoch',
      vmId: this.vmId,
      time: epoch.time,
      seq: epoch.seq,
      mode: epoch.mode,
      intervalMs,
      dirtyPages: epoch.dirtyPages,
      pagesCopied: epoch.pagesCopied,
      pagesPrecopied: epoch.pagesPrecopied,
      pauseUs: nsToUs(epoch.pauseNs),
      faults: epoch.faults,
      faultUs: nsToUs(epoch.faultNsEstimate),
      lateUs: nsToUs(epoch.lateNs),
      predicted: epoch.predicted,
      truePositives: epoch.truePositives,
      falsePositives: epoch.falsePositives,
      misses: epoch.misses,
      precision: epoch.precision,
      recall: epoch.recall,
      storeBytes: epoch.storeBytes,
      checkpointsRetained: epoch.retained,
      progressRate: rate,
      overheadPct: this.#overheadPct,
      overheadCalibratedPct: this.#overheadCalibratedPct,
      coalesced: epoch.coalesced,
    };
    this.#emit(event);
  }

  #onConsole(raw: string): void {
    const line = this.#consoleGate.admit(raw);
    if (line === null) return;
    this.#console.push(line);
    if (this.#console.length > consoleLines) this.#console.splice(0, this.#console.length - consoleLines);
    this.#consoleUnobserved.push(line);
    if (this.#consoleUnobserved.length > consoleLines) this.#consoleUnobserved.splice(0, this.#consoleUnobserved.length - consoleLines);
    this.#emit({ type: 'console', vmId: this.vmId, time: Date.now(), line });
  }

  #startSampler(): void {
    this.#stopSampler();
    this.#sampleProgress();
    this.#sampler = setInterval(() => {
      this.#sampleProgress();
      for (const detection of this.#observe()) this.#onDetection(detection);
      this.#autoTune();
    }, progressSampleMs);
  }

  /** Applies what the tuner decides, as a settings change with an event saying why. */
  #autoTune(): void {
    const applied = this.#applied;
    if (!this.#settings.autoTune || !applied?.enabled || this.#state !== 'running' || this.#recovery.active) return;
    const now = Date.now();
    const change = this.#tuner.decide(now, applied.intervalMs, this.#settings, this.#overheadPct);
    if (!change) return;
    const next = { ...this.#settings, intervalMs: change.to };
    try {
      this.#apply(next);
    } catch (error) {
      this.#emit({ type: 'alert', alertId: newAlertId(), vmId: this.vmId, time: now, detector: 'auto-tune', message: `the tuned interval ${change.to} ms could not be applied: ${(error as Error).message}`, evidence: { ...change }, latencyBoundMs: 0, action: 'none' });
      return;
    }
    this.#settings = next;
    this.#emit({ type: 'interval-tuned', vmId: this.vmId, time: now, ...change });
  }

  #stopSampler(): void {
    clearInterval(this.#sampler);
    this.#sampler = undefined;
  }

  #sampleProgress(): void {
    if (!this.#vm) return;
    const now = performance.now();
    const { units } = this.#vm.progress();
    this.#meter.sample(now, units);
    this.#overheadMeter.sample(now, units);
  }

  #setState(state: VmState, reason: string | null): void {
    if (state === this.#state && reason === this.#reason) return;
    this.#state = state;
    this.#reason = reason;
    if (terminalStates.has(state)) {
      this.#stopSampler();
      clearTimeout(this.#calibration);
    }
    this.#emit({ type: 'vm-state', vmId: this.vmId, time: Date.now(), state, ...(reason ? { reason } : {}) });
  }

  #requireLive(): BackendVm {
    if (!this.#vm || terminalStates.has(this.#state)) {
      throw new EngineError('conflict', `the VM is ${this.#state}${this.#reason ? ` (${this.#reason})` : ''}`);
    }
    return this.#vm;
  }

  /** A crashed guest may be rolled back: that revives it. */
  #requireRollbackable(): BackendVm {
    if (!this.#vm || beyondRollback.has(this.#state)) {
      throw new EngineError('conflict', `the VM is ${this.#state}${this.#reason ? ` (${this.#reason})` : ''}`);
    }
    return this.#vm;
  }

  #checkpointsOrEmpty(): BackendCheckpoint[] {
    const live = this.#vm && !beyondRollback.has(this.#state) && this.#applied?.enabled;
    return live ? this.#vm!.checkpoints() : [];
  }

  /** Checkpoint and rollback requests run one at a time, in order. */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#busy.then(work, work);
    this.#busy = run.catch(() => undefined);
    return run;
  }

  #emit(event: TelemetryEvent): void {
    this.emit('telemetry', event);
  }
}

function newAlertId(): string {
  return `alert-${randomBytes(5).toString('hex')}`;
}
