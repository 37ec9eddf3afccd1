// An existing Xen domain (PVH or HVM) protected from dom0: the shared
// checkpoint core runs its epochs on a native thread over Xen's log-dirty
// tracking and foreign mappings; this object sends it requests, hears back
// through events, and watches the domain's state as Xen reports it.
import { EventEmitter } from 'node:events';
import type { Mailbox } from '@uckpt/guest';
import type { Checkpointable, CheckpointConfig, CheckpointInfo, CheckpointPatch, CheckpointStats, EpochRecord, RollbackResult } from '@uckpt/native-core';
import { loadAddon, type NativeDomain, type NativeEvent } from './loader.js';

/** As Xen reports it (`paused`: by its operator or toolstack, not by this object); `detached` once this object let go. */
export type DomainState = 'running' | 'paused' | 'shutdown' | 'crashed' | 'dying' | 'gone' | 'detached';

export interface DomainInfo {
  domid: number;
  state: Exclude<DomainState, 'detached'>;
  /** Why it shut down (poweroff, reboot, crash, ...), or null. */
  shutdownReason: string | null;
  hvm: boolean;
  /** Pages it holds now, and its memory limit. */
  pages: number;
  maxMemKb: number;
  vcpus: number;
  /** Guest frames 0..max_gpfn, holes included. */
  frames: number;
  logDirty: boolean;
}

/** A domain of this host as the toolstack knows it. */
/** What one vCPU is doing, as Xen sees it. */
export interface VcpuSample {
  vcpu: number;
  online: boolean;
  /** Waiting for an event (halted). */
  blocked: boolean;
  /** Time it has run, all told. */
  cpuTimeNs: number;
  /** Where it is now (0 when offline). */
  rip: bigint;
  rsp: bigint;
  /** Its page tables. */
  cr3: bigint;
  /** LA57 (bit 12) says 5-level paging. */
  cr4: bigint;
  /** At privilege level 0. */
  kernel: boolean;
}

export interface HostDomain {
  domid: number;
  /** From xenstore; empty while a domain is being built. */
  name: string;
  type: 'pv' | 'pvh' | 'hvm';
  state: Exclude<DomainState, 'gone' | 'detached'>;
  shutdownReason: string | null;
  memoryKb: number;
  vcpus: number;
}

/** Every domain of this host, dom0 included; throws where there is no Xen. */
export function listDomains(): HostDomain[] {
  return loadAddon().listDomains() as HostDomain[];
}

/** What Xen checkpointing accepts: no predictor (a CLEAN re-arms every page), stop-and-copy only for now. */
export type XenCheckpointConfig = Omit<CheckpointConfig, 'faultNs' | 'testNoWriteProtect'>;

export interface XenCheckpointStats extends CheckpointStats {
  dirtyTracking: 'xen-log-dirty';
}

export interface XenRollbackResult extends RollbackResult {
  /** Whether the rollback brought a crashed domain back to life. */
  revived: boolean;
}

export interface XenDomainEvents {
  /** The domain's state changed (checked every `watchMs`). */
  state: [state: DomainState, info: DomainInfo | null];
  epoch: [epoch: EpochRecord];
  'checkpoint-error': [message: string];
}

const watchMs = 100;
const ended = new Set<DomainState>(['shutdown', 'crashed', 'dying', 'gone', 'detached']);

export class XenDomain extends EventEmitter<XenDomainEvents> implements Checkpointable {
  readonly domid: number;
  #native: NativeDomain | null;
  #state: DomainState;
  readonly #watch: NodeJS.Timeout;

  private constructor(domid: number) {
    super();
    const { XenDomain: NativeDomainClass } = loadAddon();
    this.domid = domid;
    this.#native = new NativeDomainClass(domid, (event) => this.#onEvent(event));
    this.#state = this.info().state;
    this.#watch = setInterval(() => this.#checkState(), watchMs).unref();
  }

  /** Attaches to a running PVH or HVM domain; throws a clear error for dom0, PV, a missing domain or no Xen. */
  static attach(domid: number): XenDomain {
    return new XenDomain(domid);
  }

  info(): DomainInfo {
    return this.#domain('info').info() as DomainInfo;
  }

  get state(): DomainState {
    return this.#state;
  }

  /** Nested with the epoch loop's own pauses; the domain runs when the last is undone. */
  pause(): void {
    this.#domain('pause').pause();
  }

  resume(): void {
    this.#domain('resume').resume();
  }

  readMemory(gpa: number | bigint, length: number): Buffer {
    return this.#domain('readMemory').readMemory(gpa, length);
  }

  writeMemory(gpa: number | bigint, data: Buffer): void {
    this.#domain('writeMemory').writeMemory(gpa, data);
  }

  /** The uckpt workload image's mailbox; null for any other guest. */
  mailbox(): Mailbox | null {
    return this.#domain('mailbox').mailbox() as Mailbox | null;
  }

  enableCheckpointing(config: XenCheckpointConfig = {}): void {
    this.#domain('enableCheckpointing').enableCheckpointing(config);
  }

  disableCheckpointing(): void {
    this.#domain('disableCheckpointing').configureCheckpointing({ enabled: false });
  }

  configureCheckpointing(patch: CheckpointPatch): void {
    this.#domain('configureCheckpointing').configureCheckpointing(patch);
  }

  checkpointNow(): Promise<number> {
    return this.#domain('checkpointNow').checkpointNow();
  }

  /** Rolls the domain back in place: memory and vCPU context as they were at the checkpoint. */
  /**
   * A rollback of a crashed domain (kept by on_crash="preserve") revives
   * it in place: Xen clears the shutdown and the guest runs on from the
   * checkpoint. A domain that shut down any other way is refused.
   */
  async rollback(target: number | 'latest'): Promise<XenRollbackResult> {
    const result = (await this.#domain('rollback').rollback(target)) as XenRollbackResult;
    if (result.revived) this.#checkState(true);
    return result;
  }

  listCheckpoints(): CheckpointInfo[] {
    return this.#domain('listCheckpoints').listCheckpoints() as CheckpointInfo[];
  }

  stats(): XenCheckpointStats {
    return this.#domain('checkpointStats').checkpointStats() as XenCheckpointStats;
  }

  testCorruptStoredPage(seq: number, pfn: number): void {
    this.#domain('testCorruptStoredPage').testCorruptStoredPage(seq, pfn);
  }

  /** Whether Xen has log-dirty on for the domain, whoever switched it on (probes it). */
  testLogDirtyInXen(): boolean {
    return this.#domain('testLogDirtyInXen').testLogDirtyInXen();
  }

  /** Every vCPU's state, run time and instruction pointer. */
  vcpus(): VcpuSample[] {
    return this.#domain('vcpus').vcpus() as VcpuSample[];
  }

  /**
   * XORs `mask` into a general-purpose register (rax..r15, rsp, rbp, rip) of
   * a vCPU, the domain paused meanwhile: fault injection.
   */
  flipRegister(vcpu: number, name: string, mask: bigint): { before: bigint; after: bigint } {
    return this.#domain('flipRegister').flipRegister(vcpu, name, mask) as { before: bigint; after: bigint };
  }

  /** Whether a frame is the guest's RAM: not a hole, not one of Xen's (shared_info, grant frames). */
  guestRam(frame: number): boolean {
    return this.#domain('guestRam').guestRam(frame);
  }

  /** Shuts the domain down as crashed, as a kernel panic does: fault injection. */
  crash(): void {
    this.#domain('crash').crash();
  }

  /**
   * A key under the domain's xenstore home (`data/uckpt-heartbeat`), at
   * most 4 KiB of it, or null. The guest writes these: treat as untrusted.
   */
  readXenstore(key: string): string | null {
    return this.#domain('readXenstore').readXenstore(key);
  }

  /** Stops checkpointing, switches log-dirty off and lets go; the domain runs on. Idempotent. */
  detach(): void {
    clearInterval(this.#watch);
    if (!this.#native) return;
    this.#native.detach();
    this.#native = null;
    this.#setState('detached', null);
  }

  #domain(operation: string): NativeDomain {
    if (!this.#native) throw new Error(`${operation}: detached from domain ${this.domid}`);
    return this.#native;
  }

  #checkState(revived = false): void {
    if (!this.#native || (ended.has(this.#state) && !revived)) return;
    let info: DomainInfo;
    try {
      info = this.info();
    } catch {
      return; // a transient hypercall failure: the next check decides
    }
    this.#setState(info.state, info);
  }

  #setState(state: DomainState, info: DomainInfo | null): void {
    if (state === this.#state) return;
    this.#state = state;
    this.emit('state', state, info);
  }

  #onEvent(event: NativeEvent): void {
    if (!this.#native) return;
    if (event.type === 'epoch') {
      const { type: _, ...epoch } = event;
      this.emit('epoch', epoch as unknown as EpochRecord);
    } else {
      this.emit('checkpoint-error', event.message);
    }
  }
}
