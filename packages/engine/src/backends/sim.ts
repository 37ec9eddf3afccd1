// A simulated backend: a test double for hosts without a hypervisor and for
// tests of the layers above. It is never chosen silently; every VM it makes
// says `simulated: true`, and the server and dashboard show it.
//
// The "guest" is a counter advancing at a fixed rate. Checkpoints capture
// its whole state (the counter, a hang, a latent corruption) and rollbacks
// restore it, so the layers above see consistent behaviour. Faults behave
// like their real counterparts, on a fixed schedule:
//   bit-flip  data: the guest's self-check finds it 200 ms later (guest-error);
//             code or stack: the guest crashes 100 ms later
//   register  the guest crashes 50 ms later
//   hang      the counter stops
//   crash     the guest crashes now
//   checkpoint-page  a stored page of a checkpoint fails its checksum when a
//             rollback to that checkpoint reads it
// A latent corruption is in every checkpoint taken before it surfaces; a
// rollback to such a checkpoint brings it back. With `repeat` set, each run
// is 2000 units and the final checksum differs when corruption is present.
import { EventEmitter } from 'node:events';
import type { CheckpointSettings, VmSpec } from '../config.js';
import { EngineError } from '../errors.js';
import type { FaultEffect, FaultRequest } from '../faults.js';
import type { Backend, BackendCheckpoint, BackendExit, BackendRollback, BackendVm, BackendVmEvents, GuestProgress } from '../backend.js';

const unitsPerSecond = 1000;
const unitsPerRun = 2000;
const pageBytes = 4096;
const guestTickMs = 10;

export class SimBackend implements Backend {
  readonly name = 'sim';
  readonly simulated = true;

  createVm(spec: VmSpec): BackendVm {
    return new SimVm(spec);
  }
}

interface LatentFault {
  exit: BackendExit;
  /** Left until it surfaces, ms of guest time. */
  remainingMs: number;
  /** The data is wrong: a run that finishes with it has the wrong checksum. */
  corruptsResult: boolean;
}

/** What a checkpoint captures: the whole simulated guest. */
interface GuestState {
  units: number;
  hung: boolean;
  latent: LatentFault | null;
  corrupted: boolean;
}

interface SimCheckpoint extends BackendCheckpoint {
  guest: GuestState;
  corruptPage: number | null;
}

class SimVm extends EventEmitter<BackendVmEvents> implements BackendVm {
  readonly backend = 'sim';
  readonly simulated = true;
  readonly #spec: VmSpec;
  #guest: GuestState = { units: 0, hung: false, latent: null, corrupted: false };
  /** When the counter last resumed from #guest.units (performance.now()). */
  #resumedAt = 0;
  #lastTick = 0;
  #exited = false;
  #seq = 0;
  #epochTimer: NodeJS.Timeout | undefined;
  #guestTimer: NodeJS.Timeout | undefined;
  #settings: CheckpointSettings | null = null;
  #checkpoints: SimCheckpoint[] = [];
  readonly #dirtyPerEpoch: number;

  constructor(spec: VmSpec) {
    super();
    this.#spec = spec;
    this.#dirtyPerEpoch = 50 + (spec.seed % 200);
  }

  start(): void {
    this.#resumedAt = performance.now();
    this.#lastTick = this.#resumedAt;
    this.#guestTimer = setInterval(() => this.#tick(), guestTickMs);
    this.emit('console', 'simulated guest: started');
  }

  progress(): GuestProgress {
    const units = this.#units();
    const runsDone = this.#spec.repeat > 0 ? Math.min(this.#spec.repeat, Math.floor(units / unitsPerRun)) : 0;
    return { units, runsDone, lastChecksum: runsDone > 0 ? this.#checksum(runsDone) : null };
  }

  applySettings(next: CheckpointSettings): void {
    clearInterval(this.#epochTimer);
    this.#epochTimer = undefined;
    if (next.mode !== this.#settings?.mode || !next.enabled) this.#checkpoints = [];
    this.#settings = next;
    if (next.enabled) this.#epochTimer = setInterval(() => this.#epoch(), next.intervalMs);
  }

  async checkpointNow(): Promise<number> {
    if (!this.#settings?.enabled) throw new EngineError('conflict', 'checkpointing is disabled');
    return this.#take(this.#dirtyPerEpoch);
  }

  async rollback(target: number | 'latest'): Promise<BackendRollback> {
    const index = target === 'latest' ? this.#checkpoints.length - 1 : this.#checkpoints.findIndex((c) => c.seq === target);
    const checkpoint = this.#checkpoints[index];
    if (!checkpoint) throw new EngineError('rollback-refused', `no retained checkpoint ${target}`);
    if (checkpoint.corruptPage !== null) {
      checkpoint.verified = false;
      throw new EngineError(
        'rollback-refused',
        `checkpoint ${checkpoint.seq} holds a corrupted copy of guest page ${checkpoint.corruptPage} (checksum mismatch): rollback to ${checkpoint.seq} refused`,
      );
    }
    const dropped = this.#checkpoints.length - 1 - index;
    this.#checkpoints.length = index + 1;
    this.#guest = structuredClone(checkpoint.guest);
    this.#resumedAt = performance.now();
    this.#lastTick = this.#resumedAt;
    this.#exited = false;
    return { seq: checkpoint.seq, pagesRestored: checkpoint.pages, checkpointsDropped: dropped, durationNs: 100_000 };
  }

  checkpoints(): BackendCheckpoint[] {
    return this.#checkpoints.map(({ seq, time, pages, bytes, verified }) => ({ seq, time, pages, bytes, verified }));
  }

  async inject(request: FaultRequest): Promise<FaultEffect> {
    if (this.#exited) throw new EngineError('conflict', 'the simulated guest is not running');
    switch (request.kind) {
      case 'bit-flip': {
        const region = request.region ?? 'data';
        const bits = request.bits ?? 1;
        const page = request.page ?? (request.seed ?? 0) % 64;
        const selfChecked = region === 'data';
        this.#plant({
          remainingMs: selfChecked ? 200 : 100,
          corruptsResult: selfChecked,
          exit: selfChecked
            ? { state: 'crashed', cause: 'guest-error', reason: `guest-error: the guest detected an error: data page ${page} fails its self-check`, detail: { page } }
            : { state: 'crashed', cause: 'crash', reason: `exception: #UD in the ${region} region (page ${page})`, detail: { vector: 6, page } },
        });
        return { description: `flipped ${bits} bit(s) in ${region} page ${page} of the simulated guest`, details: { region, page, bits, simulated: true } };
      }
      case 'register': {
        const register = request.register ?? 'rax';
        const bits = request.bits ?? 1;
        this.#plant({ remainingMs: 50, corruptsResult: false, exit: { state: 'crashed', cause: 'crash', reason: `exception: #GP after ${register} was corrupted`, detail: { vector: 13, register } } });
        return { description: `flipped ${bits} bit(s) of ${register} in the simulated vCPU`, details: { register, bits, simulated: true } };
      }
      case 'hang':
        this.#guest = { ...this.#guest, units: this.#units(), hung: true };
        return { description: 'the simulated guest stopped making progress', details: { units: this.#guest.units, simulated: true } };
      case 'crash':
        this.#exit({ state: 'crashed', cause: 'crash', reason: 'shutdown: the guest triple-faulted', detail: { simulated: true } });
        return { description: 'the simulated guest triple-faulted', details: { simulated: true } };
      case 'checkpoint-page': {
        const checkpoint = request.seq === undefined ? this.#checkpoints.at(-1) : this.#checkpoints.find((c) => c.seq === request.seq);
        if (!checkpoint) {
          const retained = this.#checkpoints.map((c) => c.seq);
          throw new EngineError('invalid-argument', `checkpoint ${request.seq ?? '(newest)'} is not retained (retained: ${retained.length ? `${retained[0]}..${retained.at(-1)}` : 'none'})`);
        }
        checkpoint.corruptPage = request.page ?? 1;
        return { description: `flipped a bit in the stored copy of page ${checkpoint.corruptPage} of checkpoint ${checkpoint.seq}`, details: { seq: checkpoint.seq, page: checkpoint.corruptPage, simulated: true } };
      }
    }
  }

  destroy(): void {
    clearInterval(this.#epochTimer);
    clearInterval(this.#guestTimer);
    this.emit('exit', { state: 'stopped', cause: 'stopped', reason: 'the VM was destroyed' });
  }

  #units(): number {
    const running = !this.#exited && !this.#guest.hung;
    const elapsed = running ? Math.floor(((performance.now() - this.#resumedAt) / 1000) * unitsPerSecond) : 0;
    const units = this.#guest.units + elapsed;
    return this.#spec.repeat > 0 ? Math.min(units, this.#spec.repeat * unitsPerRun) : units;
  }

  #plant(latent: LatentFault): void {
    // Bring the counter up to now first: the state from here on carries the fault.
    this.#guest = { ...this.#guest, units: this.#units(), latent, corrupted: this.#guest.corrupted || latent.corruptsResult };
    this.#resumedAt = performance.now();
  }

  /** The guest's own clock: latent faults surface, finite runs end. */
  #tick(): void {
    if (this.#exited) return;
    const now = performance.now();
    const elapsed = now - this.#lastTick;
    this.#lastTick = now;
    const latent = this.#guest.latent;
    if (latent && !this.#guest.hung) {
      latent.remainingMs -= elapsed;
      if (latent.remainingMs <= 0) {
        this.#guest = { ...this.#guest, units: this.#units(), latent: null };
        this.#resumedAt = now;
        this.#exit(latent.exit);
        return;
      }
    }
    if (this.#spec.repeat > 0 && this.#units() >= this.#spec.repeat * unitsPerRun) {
      this.#exit({ state: 'finished', cause: 'done', reason: `the workload finished (checksum ${this.#checksum(this.#spec.repeat)})` });
    }
  }

  #exit(exit: BackendExit): void {
    this.#guest = { ...this.#guest, units: this.#units() };
    this.#exited = true;
    // Asynchronously, as a real exit arrives: whoever caused it hears back first.
    setImmediate(() => this.emit('exit', exit));
  }

  /** A stand-in for the workload's result: right unless corrupted data reached it. */
  #checksum(runs: number): string {
    const right = (BigInt(this.#spec.seed) * 0x9e3779b97f4a7c15n + BigInt(runs)) & 0xffffffffffffffffn;
    const value = this.#guest.corrupted ? right ^ 0x10n : right;
    return value.toString(16).padStart(16, '0');
  }

  #take(pages: number): number {
    const seq = ++this.#seq;
    this.#guest = { ...this.#guest, units: this.#units() };
    this.#resumedAt = performance.now();
    this.#checkpoints.push({ seq, time: Date.now(), pages, bytes: pages * pageBytes, verified: true, guest: structuredClone(this.#guest), corruptPage: null });
    const retention = this.#settings?.retention ?? 1;
    if (this.#checkpoints.length > retention) this.#checkpoints.splice(0, this.#checkpoints.length - retention);
    return seq;
  }

  #epoch(): void {
    if (this.#exited) return;
    const dirtyPages = this.#dirtyPerEpoch;
    const seq = this.#take(dirtyPages);
    this.emit('epoch', {
      seq,
      time: Date.now(),
      dirtyPages,
      pagesCopied: dirtyPages,
      pagesPrecopied: 0,
      pauseNs: 100_000 + dirtyPages * 1000,
      harvestNs: 10_000,
      copyNs: dirtyPages * 1000,
      rearmNs: 10_000,
      precopyNs: 0,
      predicted: 0,
      truePositives: 0,
      falsePositives: 0,
      misses: dirtyPages,
      faults: dirtyPages,
      faultNsEstimate: dirtyPages * 3000,
      leastTrackingNs: 0,
      hotCompared: 0,
      pagesProtected: 0,
      precision: null,
      recall: null,
      lateNs: 0,
      mode: this.#settings?.mode ?? 'stop-and-copy',
      fallbackReason: null,
      storeBytes: this.#checkpoints.reduce((sum, c) => sum + c.bytes, 0),
      retained: this.#checkpoints.length,
      retired: 0,
      coalesced: 0,
    });
  }
}
