// A simulated backend: a test double for hosts without a hypervisor and for
// tests of the layers above. It is never chosen silently; every VM it makes
// says `simulated: true`, and the server and dashboard show it.
//
// The "guest" is a counter advancing at a fixed rate; checkpoints remember
// it and rollbacks rewind it, so the layers above see consistent behaviour.
import { EventEmitter } from 'node:events';
import type { CheckpointSettings, VmSpec } from '../config.js';
import { EngineError } from '../errors.js';
import type { Backend, BackendCheckpoint, BackendRollback, BackendVm, BackendVmEvents, GuestProgress } from '../backend.js';

const unitsPerSecond = 1000;
const pageBytes = 4096;

export class SimBackend implements Backend {
  readonly name = 'sim';
  readonly simulated = true;

  createVm(spec: VmSpec): BackendVm {
    return new SimVm(spec);
  }
}

interface SimCheckpoint extends BackendCheckpoint {
  units: number;
}

class SimVm extends EventEmitter<BackendVmEvents> implements BackendVm {
  readonly backend = 'sim';
  readonly simulated = true;
  #startedAt = 0;
  #unitsAtStart = 0;
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;
  #settings: CheckpointSettings | null = null;
  #checkpoints: SimCheckpoint[] = [];
  readonly #dirtyPerEpoch: number;

  constructor(spec: VmSpec) {
    super();
    this.#dirtyPerEpoch = 50 + (spec.seed % 200);
  }

  start(): void {
    this.#startedAt = performance.now();
    this.emit('console', 'simulated guest: started');
  }

  progress(): GuestProgress {
    const units = this.#unitsAtStart + Math.floor(((performance.now() - this.#startedAt) / 1000) * unitsPerSecond);
    return { units, runsDone: 0, lastChecksum: null };
  }

  applySettings(next: CheckpointSettings): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (next.mode !== this.#settings?.mode || !next.enabled) this.#checkpoints = [];
    this.#settings = next;
    if (next.enabled) this.#timer = setInterval(() => this.#epoch(), next.intervalMs);
  }

  async checkpointNow(): Promise<number> {
    if (!this.#settings?.enabled) throw new EngineError('conflict', 'checkpointing is disabled');
    return this.#take(this.#dirtyPerEpoch);
  }

  async rollback(target: number | 'latest'): Promise<BackendRollback> {
    const index = target === 'latest' ? this.#checkpoints.length - 1 : this.#checkpoints.findIndex((c) => c.seq === target);
    const checkpoint = this.#checkpoints[index];
    if (!checkpoint) throw new EngineError('rollback-refused', `no retained checkpoint ${target}`);
    const dropped = this.#checkpoints.length - 1 - index;
    this.#checkpoints.length = index + 1;
    this.#unitsAtStart = checkpoint.units;
    this.#startedAt = performance.now();
    return { seq: checkpoint.seq, pagesRestored: checkpoint.pages, checkpointsDropped: dropped, durationNs: 100_000 };
  }

  checkpoints(): BackendCheckpoint[] {
    return this.#checkpoints.map(({ units: _, ...checkpoint }) => checkpoint);
  }

  destroy(): void {
    clearInterval(this.#timer);
    this.emit('exit', { state: 'stopped', reason: 'the VM was destroyed' });
  }

  #take(pages: number): number {
    const seq = ++this.#seq;
    this.#checkpoints.push({ seq, time: Date.now(), pages, bytes: pages * pageBytes, verified: true, units: this.progress().units });
    const retention = this.#settings?.retention ?? 1;
    if (this.#checkpoints.length > retention) this.#checkpoints.splice(0, this.#checkpoints.length - retention);
    return seq;
  }

  #epoch(): void {
    const dirtyPages = this.#dirtyPerEpoch;
    const seq = this.#take(dirtyPages);
    this.emit('epoch', {
      seq,
      time: Date.now(),
      dirtyPages,
      pagesCopied: dirtyPages,
      pauseNs: 100_000 + dirtyPages * 1000,
      predicted: 0,
      truePositives: 0,
      falsePositives: 0,
      misses: dirtyPages,
      faults: dirtyPages,
      faultNsEstimate: dirtyPages * 3000,
      mode: this.#settings?.mode ?? 'stop-and-copy',
      storeBytes: this.#checkpoints.reduce((sum, c) => sum + c.bytes, 0),
      retained: this.#checkpoints.length,
      coalesced: 0,
    });
  }
}
