// A KVM virtual machine running a uckpt workload image. The vCPUs run on
// native threads; this object only sends them requests and hears back
// through events, so the JavaScript thread never waits on the guest.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Mailbox } from '@uckpt/guest';
import type {
  Checkpointable,
  CheckpointConfig,
  CheckpointInfo,
  CheckpointPatch,
  CheckpointStats,
  EpochRecord,
  RollbackResult,
} from '@uckpt/native-core';
import { loadAddon, type NativeEvent, type NativeExit, type NativeVm } from './loader.js';

export type VmState =
  | 'created'
  | 'loaded'
  | 'running'
  | 'paused'
  | 'finished'
  | 'crashed'
  | 'failed'
  | 'stopped'
  | 'destroyed';

/** Why a run ended. `done` is the only clean one. */
export type ExitReason =
  | 'done'
  | 'guest-error'
  | 'bad-params'
  | 'exception'
  | 'shutdown'
  | 'halt'
  | 'unexpected-io'
  | 'unexpected-mmio'
  | 'internal-error'
  | 'stopped';

export interface ExitInfo {
  reason: ExitReason;
  message: string;
  vcpu: number;
  /** Which run ended: 0, then one more after each revive (a rollback of a crashed VM). */
  run: number;
  /** The workload's checksum, when reason is `done`. */
  result?: bigint;
}

export interface VmOptions {
  /** Guest RAM, 16..16384 MiB. */
  memoryMiB: number;
  /** 1..64; vCPU 0 runs the workload, the others idle in the guest. */
  vcpus?: number;
  /**
   * How guest writes are tracked for checkpoints: KVM's dirty bitmap with
   * manual re-protection (default), or per-vCPU dirty rings.
   */
  dirtyTracking?: 'bitmap' | 'ring';
}

export interface GuestParams {
  /** Index into the image's workload table (see workloads.ts). */
  workload: number;
  seed?: number | bigint;
  /** 0 or absent: the workload's default. */
  size?: number | bigint;
  param?: number | bigint;
  /** Runs of the workload; 0 repeats forever. */
  repeat?: number;
}

/** Guest-physical addresses, [start, end). */
export interface GuestRange {
  start: number;
  end: number;
}

/** Where the image put things, known once it is loaded. */
export interface ImageLayout {
  /** The image's executable segment: the code and its read-only data. */
  code: GuestRange;
  /** The workload's whole stack; the part in use lies above vCPU 0's RSP. */
  stack: GuestRange;
  /** Left unused by the guest and its boot tables: room for the VMM's own code. */
  scratch: GuestRange;
}

/** The image's layout and, once the guest has reported it, where the workload's data lives. */
export interface GuestLayout extends ImageLayout {
  /** The workload's arena (its heap); null until the guest has set it up. */
  data: GuestRange | null;
}

export interface LoadedImage extends ImageLayout {
  imageEnd: number;
  pvhEntry: boolean;
}

export interface Segment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

export interface VcpuState {
  regs: Record<
    | 'rax' | 'rbx' | 'rcx' | 'rdx' | 'rsi' | 'rdi' | 'rsp' | 'rbp'
    | 'r8' | 'r9' | 'r10' | 'r11' | 'r12' | 'r13' | 'r14' | 'r15' | 'rip' | 'rflags',
    bigint
  >;
  sregs: Record<'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss' | 'tr' | 'ldt', Segment> &
    Record<'cr0' | 'cr2' | 'cr3' | 'cr4' | 'cr8' | 'efer' | 'apicBase', bigint> &
    Record<'gdt' | 'idt', { base: bigint; limit: number }>;
  /** Raw struct kvm_fpu. */
  fpu: Buffer;
  /** Raw XSAVE area (empty when the host has no XSAVE). */
  xsave: Buffer;
  xcrs: { xcr: number; value: bigint }[];
  msrs: { index: number; value: bigint }[];
  /** Raw struct kvm_vcpu_events. */
  events: Buffer;
}

/** Any part of a vCPU state; what is absent stays as it is. */
export type VcpuStatePatch = {
  regs?: Partial<VcpuState['regs']>;
  sregs?: Partial<Omit<VcpuState['sregs'], 'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss' | 'tr' | 'ldt'>> &
    Partial<Record<'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss' | 'tr' | 'ldt', Partial<Segment>>>;
} & Partial<Omit<VcpuState, 'regs' | 'sregs'>>;

export interface KvmInfo {
  memoryBytes: number;
  vcpus: number;
  capabilities: {
    maxVcpus: number;
    xsaveBytes: number;
    xcrs: boolean;
    manualDirtyLogProtect: number;
    dirtyRingBytes: number;
  };
}

/** copyThreads when not given: 2 where this process may run on two CPUs or more (the paused vCPU's thread sleeps), else 1. */
export function defaultCopyThreads(): number {
  return loadAddon().defaultCopyThreads;
}

/** A rollback; `revived` says how the run ended when it brought a crashed or failed VM back to life. */
export interface KvmRollbackResult extends RollbackResult {
  /**
   * When the VM had crashed or failed and the rollback brought it back to
   * life: how that run ended. Null for a rollback of a running or paused VM.
   */
  revived: ExitInfo | null;
}

/** The KVM VMM's dirty tracking: the dirty bitmap (re-protected manually, or read and cleared at once) or dirty rings. */
export interface KvmCheckpointStats extends CheckpointStats {
  dirtyTracking: 'manual-protect' | 'get-and-clear' | 'ring';
}

const terminal = new Set<VmState>(['finished', 'crashed', 'failed', 'stopped']);

export interface VmEvents {
  console: [line: string];
  state: [state: VmState, exit: ExitInfo | undefined];
  epoch: [epoch: EpochRecord];
  'checkpoint-error': [message: string];
  /** Something works other than asked, e.g. copy-on-write fell back to stop-and-copy. */
  'checkpoint-warning': [message: string];
}

/** A promise of how one run ends, and its resolver. */
interface RunExit {
  promise: Promise<ExitInfo>;
  resolve: (exit: ExitInfo) => void;
}

function runExit(): RunExit {
  let resolve!: (exit: ExitInfo) => void;
  const promise = new Promise<ExitInfo>((r) => (resolve = r));
  return { promise, resolve };
}

export class Vm extends EventEmitter<VmEvents> implements Checkpointable {
  readonly #native: NativeVm;
  #destroyed = false;
  #warnedFallback: string | null = null;
  #warnedFaultCost = false;
  /** The run waitForExit() is about, and the exits of runs not yet settled, by run number. */
  #run = 0;
  readonly #exits = new Map<number, RunExit>([[0, runExit()]]);
  #lastCrash: ExitInfo | null = null;
  #image: LoadedImage | null = null;

  private constructor(options: VmOptions) {
    super();
    const { Vm: NativeVmClass } = loadAddon();
    try {
      this.#native = new NativeVmClass(options.memoryMiB, options.vcpus ?? 1, (event) => this.#onEvent(event), {
        dirtyTracking: options.dirtyTracking ?? 'bitmap',
      });
    } catch (error) {
      throw withKvmHint(error);
    }
  }

  static create(options: VmOptions): Vm {
    return new Vm(options);
  }

  /** Loads the image (a path or its bytes) and prepares every vCPU to enter it. */
  loadImage(image: string | Buffer, params: GuestParams): LoadedImage {
    const bytes = typeof image === 'string' ? readFileSync(image) : image;
    this.#image = this.#native.loadImage(bytes, params) as LoadedImage;
    return this.#image;
  }

  /** Where the guest's code, stack and data are; see GuestLayout. */
  layout(): GuestLayout {
    if (!this.#image) throw new Error('layout: no image is loaded');
    const { code, stack, scratch } = this.#image;
    const { arenaBase, arenaBytes } = this.mailbox();
    return { code, stack, scratch, data: arenaBytes > 0 ? { start: arenaBase, end: arenaBase + arenaBytes } : null };
  }

  start(): void {
    this.#native.start();
  }

  /** Returns once every vCPU is out of KVM_RUN and asleep. */
  pause(): void {
    this.#native.pause();
  }

  resume(): void {
    this.#native.resume();
  }

  stop(): void {
    this.#native.stop();
    // The 'stopped' state event may never be delivered: a stopped VM no
    // longer keeps the event loop alive. The exit is known now.
    const exit = this.exit;
    if (exit) this.#settleExit(exit);
  }

  /** Releases every fd, thread and mapping; the object is unusable after. */
  destroy(): void {
    this.#destroyed = true;
    this.#native.destroy();
    for (const [run, { resolve }] of this.#exits) resolve({ reason: 'stopped', message: 'the VM was destroyed', vcpu: 0, run });
  }

  readMemory(gpa: number | bigint, length: number): Buffer {
    return this.#native.readMemory(gpa, length);
  }

  writeMemory(gpa: number | bigint, data: Buffer): void {
    this.#native.writeMemory(gpa, data);
  }

  getVcpuState(index: number): VcpuState {
    return this.#native.getVcpuState(index) as VcpuState;
  }

  setVcpuState(index: number, state: VcpuStatePatch): void {
    this.#native.setVcpuState(index, state);
  }

  mailbox(): Mailbox {
    return this.#native.mailbox() as Mailbox;
  }

  info(): KvmInfo {
    return this.#native.info() as KvmInfo;
  }

  get state(): VmState {
    return this.#native.state() as VmState;
  }

  /** How the current run ended; null while it goes on (also after a revive). */
  get exit(): ExitInfo | null {
    return this.#native.exitInfo() as ExitInfo | null;
  }

  /** How the latest run that a rollback revived had ended (a crash), or null. */
  get lastCrash(): ExitInfo | null {
    return this.#lastCrash;
  }

  /**
   * Starts the epoch loop (a native thread): every intervalMs the guest is
   * paused, what it wrote is copied, and it resumes. Called again, it
   * re-enables and applies intervalMs and retention.
   */
  enableCheckpointing(config: CheckpointConfig = {}): void {
    this.#native.enableCheckpointing(config);
    const { fallbackReason, costs } = this.stats();
    if (config.mode === 'cow') this.#warnFallback(fallbackReason);
    if (config.faultNs === undefined && costs.dirtyLogFaultNsCalibrated === 0 && !this.#warnedFaultCost) {
      this.#warnedFaultCost = true;
      this.emit(
        'checkpoint-warning',
        'the dirty-log fault cost could not be measured on this host (the fault probe did not run): ' +
          `the cost model assumes ${costs.dirtyLogFaultNs} ns; faultNs sets it`,
      );
    }
  }

  /** Stops checkpointing and drops every checkpoint; the guest runs on. */
  disableCheckpointing(): void {
    this.#native.disableCheckpointing();
  }

  /** Changes what is given while running. */
  configureCheckpointing(patch: CheckpointPatch): void {
    this.#native.configureCheckpointing(patch);
  }

  /** Takes a checkpoint now; resolves to its seq. */
  checkpointNow(): Promise<number> {
    return this.#native.checkpointNow();
  }

  /**
   * Rolls the guest back in place to a retained checkpoint (or the newest):
   * memory and vCPUs as they were then, newer checkpoints dropped. Refused,
   * with nothing changed, when a stored page it needs fails its checksum.
   *
   * A VM whose run crashed or failed is revived: restored the same way, it
   * runs again (state 'running', its vCPU threads started anew) as a new
   * run, and `revived` says how the old one ended. The epoch loop, which
   * skipped epochs while the guest was down, checkpoints it again. A VM that
   * finished, was stopped or destroyed is not revived.
   */
  rollback(target: number | 'latest'): Promise<KvmRollbackResult> {
    // Not async: bad arguments and a VM in the wrong state throw at once.
    const pending = this.#native.rollback(target) as Promise<KvmRollbackResult & { run?: number }>;
    return pending.then(({ run, ...rollback }) => {
      if (rollback.revived && run !== undefined) {
        this.#lastCrash = rollback.revived;
        this.#run = Math.max(this.#run, run);
        if (!this.#exits.has(this.#run)) this.#exits.set(this.#run, runExit());
      }
      return rollback;
    });
  }

  listCheckpoints(): CheckpointInfo[] {
    return this.#native.listCheckpoints() as CheckpointInfo[];
  }

  stats(): KvmCheckpointStats {
    return this.#native.checkpointStats() as KvmCheckpointStats;
  }

  /** Calls `listener` with every epoch record; returns the unsubscribe. */
  onEpoch(listener: (epoch: EpochRecord) => void): () => void {
    this.on('epoch', listener);
    return () => this.off('epoch', listener);
  }

  /**
   * Fault injection: flips a bit in the copy of guest page `pfn` that
   * checkpoint `seq` stores, which then fails verification and is never
   * restored. Throws when that checkpoint stores no copy of the page.
   */
  corruptStoredPage(seq: number, pfn: number): void {
    this.#native.testCorruptStoredPage(seq, pfn);
  }

  /** The same as corruptStoredPage, under the name the integrity tests know it by. */
  testCorruptStoredPage(seq: number, pfn: number): void {
    this.corruptStoredPage(seq, pfn);
  }

  /**
   * Resolves with how the current run ends, however it ends. A rollback that
   * revives a crashed VM starts a new run: waitForExit() called after it
   * waits for that one's end, while a promise taken before still resolves
   * with the crash (so a caller that never revives sees exactly one exit).
   */
  waitForExit(): Promise<ExitInfo> {
    let exit = this.#exits.get(this.#run);
    if (!exit) this.#exits.set(this.#run, (exit = runExit()));
    return exit.promise;
  }

  #settleExit(exit: ExitInfo): void {
    const run = exit.run ?? this.#run;
    let settled = this.#exits.get(run);
    if (!settled) this.#exits.set(run, (settled = runExit()));
    settled.resolve(exit);
    // Runs before the current one are over and waited for no more.
    for (const older of this.#exits.keys()) if (older < this.#run) this.#exits.delete(older);
  }

  /** Once per reason: copy-on-write was asked for and stop-and-copy runs instead. */
  #warnFallback(reason: string | null): void {
    if (!reason || reason === this.#warnedFallback) return;
    this.#warnedFallback = reason;
    this.emit('checkpoint-warning', `copy-on-write is not available, checkpointing uses stop-and-copy: ${reason}`);
  }

  #onEvent(event: NativeEvent): void {
    // Records queued before a destroy() may still arrive: nobody should act on them.
    if (this.#destroyed) return;
    if (event.type === 'console') {
      this.emit('console', event.text);
      return;
    }
    if (event.type === 'epoch') {
      const { type: _, ...epoch } = event;
      this.#warnFallback((epoch as unknown as EpochRecord).fallbackReason);
      this.emit('epoch', epoch as unknown as EpochRecord);
      return;
    }
    if (event.type === 'checkpoint-error') {
      this.emit('checkpoint-error', event.message);
      return;
    }
    const state = event.state as VmState;
    const exit = event.exit as ExitInfo | undefined;
    if (terminal.has(state)) {
      // The vCPU threads are parked already; joining them also lets the
      // process exit. A rollback may have revived the VM meanwhile: then
      // they run again and nothing is joined.
      if (this.state !== 'destroyed') this.#native.joinEndedRun();
      const ended = exit ?? this.exit;
      if (ended) this.#settleExit(ended);
    }
    this.emit('state', state, exit);
  }
}

function withKvmHint(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const hints: Record<string, string> = {
    ENOENT: '/dev/kvm does not exist: this host has no KVM (load kvm-intel or kvm-amd, or enable nested virtualization)',
    EACCES: 'no permission to open /dev/kvm: run as root or add this user to the kvm group',
    EPERM: 'no permission to open /dev/kvm: run as root or add this user to the kvm group',
  };
  const hint = code ? hints[code] : undefined;
  if (hint && error instanceof Error) error.message += ` (${hint})`;
  return error;
}

export type { NativeExit };
