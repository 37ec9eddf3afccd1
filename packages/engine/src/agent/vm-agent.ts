// One protected VM and everything the engine decides about it: when it is
// calibrated, how it is checkpointed, which checkpoint a rollback goes to.
// It turns the backend's raw records into typed telemetry events.
import { EventEmitter } from 'node:events';
import type { Backend, BackendCheckpoint, BackendEpoch, BackendRollback, BackendVm } from '../backend.js';
import { limits, type CheckpointSettings, type VmSpec, type VmState } from '../config.js';
import { EngineError } from '../errors.js';
import type { EpochEvent, RollbackCause, TelemetryEvent } from '../events.js';
import { protocolVersion, type AgentStatus, type RollbackTarget } from '../protocol.js';
import { ProgressMeter } from './progress-meter.js';

export interface VmAgentOptions {
  vmId: string;
  spec: VmSpec;
  settings: CheckpointSettings;
  backend: Backend;
  /** How long the guest runs unprotected at start to measure its natural progress rate. */
  calibrationMs?: number;
}

interface VmAgentEvents {
  telemetry: [event: TelemetryEvent];
}

const consoleLines = 1000;
const progressSampleMs = 250;
const overheadWindowMs = 5000;
const terminalStates = new Set<VmState>(['finished', 'crashed', 'failed', 'stopped']);

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
  #overheadPct: number | null = null;
  #epochs = 0;
  #lastEpoch: BackendEpoch | null = null;
  #lastCheckpointTime: number | null = null;
  #console: string[] = [];
  #sampler: NodeJS.Timeout | undefined;
  #calibration: NodeJS.Timeout | undefined;
  #busy: Promise<unknown> = Promise.resolve();

  constructor(options: VmAgentOptions) {
    super();
    this.vmId = options.vmId;
    this.spec = options.spec;
    this.#settings = { ...options.settings };
    this.#backend = options.backend;
    this.#calibrationMs = options.calibrationMs ?? 2000;
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
    vm.on('exit', (exit) => this.#setState(exit.state, exit.reason));
    vm.on('checkpoint-error', (message) => {
      this.#settings = { ...this.#settings, enabled: false };
      this.#applied = this.#settings;
      this.#emit({ type: 'alert', vmId: this.vmId, time: Date.now(), detector: 'checkpointing', message, evidence: {}, latencyBoundMs: 0, action: 'none' });
    });
    vm.on('checkpoint-warning', (message) => {
      this.#emit({ type: 'alert', vmId: this.vmId, time: Date.now(), detector: 'checkpointing', message, evidence: { asked: this.#settings.mode }, latencyBoundMs: 0, action: 'none' });
    });
    vm.start();
    this.#sampleProgress();
    this.#sampler = setInterval(() => this.#sampleProgress(), progressSampleMs);
    this.#setState('calibrating', null);
    this.#calibration = setTimeout(() => this.#finishCalibration(), this.#calibrationMs);
  }

  status(): AgentStatus {
    const checkpoints = this.#checkpointsOrEmpty();
    const progress = this.#vm?.progress() ?? { units: 0, runsDone: 0, lastChecksum: null };
    return {
      vmId: this.vmId,
      pid: process.pid,
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
      const vm = this.#requireLive();
      const time = Date.now();
      try {
        const target = to === 'safe' ? this.#safeTarget(vm) : to;
        const result = await vm.rollback(target);
        this.#meter.reset();
        this.#overheadMeter.reset();
        this.#emit({
          type: 'rollback', vmId: this.vmId, time, target: to, cause, ok: true, seq: result.seq,
          pagesRestored: result.pagesRestored, checkpointsDropped: result.checkpointsDropped, durationUs: result.durationNs / 1000,
        });
        return result;
      } catch (error) {
        const engineError = error instanceof EngineError ? error : new EngineError('rollback-refused', (error as Error).message);
        this.#emit({ type: 'rollback', vmId: this.vmId, time, target: to, cause, ok: false, error: engineError.message });
        throw engineError;
      }
    });
  }

  checkpoints(): BackendCheckpoint[] {
    return this.#checkpointsOrEmpty();
  }

  consoleTail(lines = 100): string[] {
    return this.#console.slice(-Math.max(0, lines));
  }

  /** Stops the guest and releases the VM; the agent has nothing left to do after. */
  stop(): void {
    clearInterval(this.#sampler);
    clearTimeout(this.#calibration);
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

  #safeTarget(vm: BackendVm): number {
    // Newest checkpoint whose pages still verify; detection latency refines this.
    const verified = vm.checkpoints().filter((c) => c.verified);
    const newest = verified.at(-1);
    if (!newest) throw new EngineError('rollback-refused', 'no verified checkpoint is retained');
    return newest.seq;
  }

  #onEpoch(epoch: BackendEpoch): void {
    this.#epochs++;
    this.#lastEpoch = epoch;
    this.#lastCheckpointTime = epoch.time;
    this.#sampleProgress();
    const rate = this.#meter.rate;
    const sustainedRate = this.#overheadMeter.rate;
    if (this.#calibratedRate && sustainedRate > 0 && this.#overheadMeter.spanMs >= 1000) {
      this.#overheadPct = (this.#calibratedRate / sustainedRate - 1) * 100;
    }
    const written = epoch.truePositives + epoch.misses;
    const event: EpochEvent = {
      type: 'epoch',
      vmId: this.vmId,
      time: epoch.time,
      seq: epoch.seq,
      mode: epoch.mode,
      intervalMs: this.#applied?.intervalMs ?? this.#settings.intervalMs,
      dirtyPages: epoch.dirtyPages,
      pagesCopied: epoch.pagesCopied,
      pauseUs: epoch.pauseNs / 1000,
      faults: epoch.faults,
      faultUs: epoch.faultNsEstimate / 1000,
      predicted: epoch.predicted,
      truePositives: epoch.truePositives,
      falsePositives: epoch.falsePositives,
      misses: epoch.misses,
      precision: epoch.predicted > 0 ? epoch.truePositives / epoch.predicted : null,
      recall: written > 0 && epoch.predicted > 0 ? epoch.truePositives / written : null,
      storeBytes: epoch.storeBytes,
      checkpointsRetained: epoch.retained,
      progressRate: rate,
      overheadPct: this.#overheadPct,
      coalesced: epoch.coalesced,
    };
    this.#emit(event);
  }

  #onConsole(line: string): void {
    this.#console.push(line);
    if (this.#console.length > consoleLines) this.#console.splice(0, this.#console.length - consoleLines);
    this.#emit({ type: 'console', vmId: this.vmId, time: Date.now(), line });
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
      clearInterval(this.#sampler);
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

  #checkpointsOrEmpty(): BackendCheckpoint[] {
    const live = this.#vm && !terminalStates.has(this.#state) && this.#applied?.enabled;
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

export function checkSettings(settings: CheckpointSettings): void {
  const { intervalMs, retention } = settings;
  if (!Number.isInteger(intervalMs) || intervalMs < limits.intervalMs.min || intervalMs > limits.intervalMs.max) {
    throw new EngineError('invalid-argument', `intervalMs must be an integer from ${limits.intervalMs.min} to ${limits.intervalMs.max}`);
  }
  if (!Number.isInteger(retention) || retention < limits.retention.min || retention > limits.retention.max) {
    throw new EngineError('invalid-argument', `retention must be an integer from ${limits.retention.min} to ${limits.retention.max}`);
  }
}
