// A KVM virtual machine running a uckpt workload image. The vCPUs run on
// native threads; this object only sends them requests and hears back
// through events, so the JavaScript thread never waits on the guest.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
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

export interface Mailbox {
  status: number;
  progress: number;
  progressTotal: number;
  runsDone: number;
  result: bigint;
  error: string;
  /** The workload's periodic consistency checks passed so far. */
  selfChecks: number;
  /** Where the workload's data (its arena) lives; 0 until the guest has set it up. */
  arenaBase: number;
  arenaBytes: number;
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

export interface CheckpointConfig {
  /** 1..10000, default 50. */
  intervalMs?: number;
  /** Checkpoints kept, 1..1024, default 8. */
  retention?: number;
  /**
   * 'stop-and-copy' (default) copies every written page while the guest is
   * paused; 'cow' pauses only to harvest and write-protect, and saves each
   * page's pre-image at its first write (userfaultfd). Where the host cannot
   * write-protect, 'cow' falls back to 'stop-and-copy': stats() and every
   * epoch record say so (fallbackReason) and a 'checkpoint-warning' event is emitted.
   */
  mode?: CheckpointMode;
  /** Memory bound of the page store; default 1.5 x guest RAM (fixed once enabled). */
  storeMiB?: number;
  /** Threads copying while the guest is paused, 1..16, default defaultCopyThreads() (fixed once enabled). */
  copyThreads?: number;
  /**
   * Stop-and-copy: copy the pages written early in an epoch while the guest
   * runs (at 1/2, 3/4, 7/8 and 15/16 of the interval), protecting them again
   * first, so that the pause copies only what was written since. It takes
   * the epoch thread's CPU for about as long as those copies. Default true;
   * needs the dirty bitmap (with dirty rings it stays off).
   */
  precopy?: boolean;
  /**
   * Dirty-page prediction: pages predicted to be written are left writable
   * (no fault) and examined at every checkpoint. true means 'cost'. Default:
   * 'cost' with the dirty bitmap (it measured best), 'off' with dirty rings.
   */
  predictor?: PredictorName | boolean;
  /**
   * The cost of one dirty-log write-protection fault, for the cost model.
   * Default: as measured on this host when checkpointing is first enabled
   * (costs.dirtyLogFaultNsCalibrated), 3000 ns where that cannot be measured.
   */
  faultNs?: number;
  /** For tests of the fallback: behave as if the host had no userfaultfd write protection. */
  testNoWriteProtect?: boolean;
}

/** copyThreads when not given: 2 where this process may run on two CPUs or more (the paused vCPU's thread sleeps), else 1. */
export function defaultCopyThreads(): number {
  return loadAddon().defaultCopyThreads;
}

export type CheckpointMode = 'stop-and-copy' | 'cow';

/** What may change while checkpointing runs; what is absent stays. */
export interface CheckpointPatch {
  intervalMs?: number;
  retention?: number;
  enabled?: boolean;
  predictor?: PredictorName | boolean;
  /** A change of mode drops every checkpoint and starts over. */
  mode?: CheckpointMode;
  /** Copying ahead, from the next round on. */
  precopy?: boolean;
}

export type PredictorName = 'off' | 'history' | 'frontier' | 'cost';

/** One record per epoch, from the native epoch loop. */
export interface EpochStats {
  seq: number;
  /** Unix time in ms at the start of the pause. */
  time: number;
  /**
   * How long after it was due the pause began: the epoch thread was still
   * busy (backing fresh store frames while a large working set is first
   * checkpointed, checksums), or the host was slow to wake it.
   */
  lateNs: number;
  dirtyPages: number;
  pagesCopied: number;
  pauseNs: number;
  /** Reading the dirty log, comparing hot pages. */
  harvestNs: number;
  copyNs: number;
  /** Re-protecting written pages; in stop-and-copy also predicting, while the other threads copy (within copyNs). */
  rearmNs: number;
  storeBytes: number;
  retained: number;
  retired: number;
  /** Prediction: hot pages, of which written (true positives) or not; written cold pages (misses, each a fault). */
  predicted: number;
  truePositives: number;
  falsePositives: number;
  misses: number;
  /**
   * Hot pages compared with the newest checkpoint: all of them, or in
   * stop-and-copy, where nearly all were written, a sample (1 in 16; the
   * others are copied as they are, and truePositives is estimated from it).
   */
  hotCompared: number;
  /** Time the guest lost to faults: measured in cow mode, misses x the configured fault cost otherwise. */
  faultNsEstimate: number;
  /** Write faults taken: copy-on-write faults served (cow), or dirty-log faults (the misses). */
  faults: number;
  /**
   * The least that tracking this epoch's writes could have cost, in faults
   * and comparisons of hot pages, whatever the prediction: each page written
   * again g epochs after its last write either stayed hot and was compared
   * g - 1 times, or faulted (first writes left out: a page never touched
   * faults without checkpoints too). Known in stop-and-copy with the cost
   * predictor (which follows the pages' ages up to 16 epochs); 0 otherwise.
   */
  leastTrackingNs: number;
  /** Pages write-protected in this pause (cow). */
  pagesProtected: number;
  /** Of dirtyPages, copied ahead while the guest ran and not written again (not copied in the pause). */
  pagesPrecopied: number;
  /** Time spent copying ahead, on the epoch thread while the guest ran. */
  precopyNs: number;
  /** truePositives / predicted, or null without prediction. */
  precision: number | null;
  /** truePositives / pages written, or null when nothing was written. */
  recall: number | null;
  /** The mode in effect. */
  mode: CheckpointMode;
  /** Why 'cow' was asked for and is not in effect; null otherwise. */
  fallbackReason: string | null;
  /** Records dropped before this one because JavaScript was behind. */
  coalesced: number;
}

/** What a page costs on this host, in ns: calibrated at start, refreshed from every epoch. */
export interface CheckpointCosts {
  copyNs: number;
  copyNsCalibrated: number;
  /** A dirty-log write-protection fault, as the cost model takes it: faultNs, or else the calibrated cost. */
  dirtyLogFaultNs: number;
  /**
   * Measured once per process by a probe guest in a scratch VM (the guest
   * pays the fault inside KVM_RUN, where the VMM cannot time it, so it is not
   * refreshed while running); 0 where the probe could not run.
   */
  dirtyLogFaultNsCalibrated: number;
  /** A copy-on-write fault: the kernel's round trip (measured at start) plus the handler (measured per epoch). */
  cowFaultNs: number;
  /** Measured at start on a scratch mapping (0 when copy-on-write was not started). */
  cowFaultNsCalibrated: number;
}

export interface CheckpointInfo {
  seq: number;
  /** Unix time in ms when it was taken. */
  time: number;
  ageMs: number;
  pages: number;
  bytes: number;
  /** False once a stored page of it failed its checksum. */
  verified: boolean;
}

export interface RollbackResult {
  seq: number;
  pagesRestored: number;
  checkpointsDropped: number;
  durationNs: number;
  /**
   * When the VM had crashed or failed and the rollback brought it back to
   * life: how that run ended. Null for a rollback of a running or paused VM.
   */
  revived: ExitInfo | null;
}

export interface CheckpointStats {
  enabled: boolean;
  /** The mode in effect. */
  mode: CheckpointMode;
  requestedMode: CheckpointMode;
  /** Why the requested 'cow' is not in effect; null otherwise. */
  fallbackReason: string | null;
  intervalMs: number;
  retention: number;
  copyThreads: number;
  /** Copying ahead is in effect (asked for, stop-and-copy's dirty bitmap). */
  precopy: boolean;
  predictor: PredictorName;
  dirtyTracking: 'manual-protect' | 'get-and-clear' | 'ring';
  epochs: number;
  skippedEpochs: number;
  rollbacks: number;
  storeBytes: number;
  storeBoundBytes: number;
  shadowPages: number;
  coalescedEpochs: number;
  lastError: string | null;
  /** Copy-on-write faults served, all epochs. */
  faults: number;
  costs: CheckpointCosts;
}

const terminal = new Set<VmState>(['finished', 'crashed', 'failed', 'stopped']);

export interface VmEvents {
  console: [line: string];
  state: [state: VmState, exit: ExitInfo | undefined];
  epoch: [epoch: EpochStats];
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

export class Vm extends EventEmitter<VmEvents> {
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
  rollback(target: number | 'latest'): Promise<RollbackResult> {
    // Not async: bad arguments and a VM in the wrong state throw at once.
    const pending = this.#native.rollback(target) as Promise<RollbackResult & { run?: number }>;
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

  stats(): CheckpointStats {
    return this.#native.checkpointStats() as CheckpointStats;
  }

  /** Calls `listener` with every epoch record; returns the unsubscribe. */
  onEpoch(listener: (epoch: EpochStats) => void): () => void {
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
      this.#warnFallback((epoch as unknown as EpochStats).fallbackReason);
      this.emit('epoch', epoch as unknown as EpochStats);
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
