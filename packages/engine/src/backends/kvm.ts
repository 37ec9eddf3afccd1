// The KVM backend: each VM is a native-kvm Vm running one of the project's
// guest workload images, checkpointed by the native epoch loop.
import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import { findWorkload, formatChecksum, guestImagePath } from '@uckpt/guest';
import { seededRandom } from '@uckpt/native-core';
import { corruptRegister, corruptStoredPage, flipBits, makeCrash, makeHang, Vm, type ExitInfo, type Fault } from '@uckpt/native-kvm';
import type { CheckpointSettings, VmSpec } from '../config.js';
import { EngineError } from '../errors.js';
import { applyCheckpointSettings } from './apply-settings.js';
import { backendUnavailable } from './availability.js';
import type { FaultEffect, FaultRequest } from '../faults.js';
import type { Backend, BackendExit, BackendRollback, BackendVm, BackendVmEvents, GuestProgress } from '../backend.js';

export class KvmBackend implements Backend {
  readonly name = 'kvm';
  readonly simulated = false;

  createVm(spec: VmSpec): BackendVm {
    const unavailable = backendUnavailable('kvm');
    if (unavailable) throw new EngineError('backend-unavailable', unavailable);
    return new KvmVm(spec);
  }
}

class KvmVm extends EventEmitter<BackendVmEvents> implements BackendVm {
  readonly backend = 'kvm';
  readonly simulated = false;
  readonly #vm: Vm;

  constructor(spec: VmSpec) {
    super();
    let workload: number;
    try {
      workload = findWorkload(spec.workload).index;
    } catch (error) {
      throw new EngineError('invalid-argument', (error as Error).message);
    }
    this.#vm = Vm.create({ memoryMiB: spec.memoryMiB, vcpus: spec.vcpus });
    try {
      this.#vm.loadImage(guestImagePath, {
        workload,
        seed: spec.seed,
        size: spec.size,
        param: spec.param,
        repeat: spec.repeat,
      });
    } catch (error) {
      this.#vm.destroy();
      throw new EngineError('invalid-argument', (error as Error).message);
    }
    this.#vm.on('epoch', (epoch) => this.emit('epoch', epoch));
    this.#vm.on('console', (line) => this.emit('console', line));
    this.#vm.on('checkpoint-error', (message) => this.emit('checkpoint-error', message));
    this.#vm.on('checkpoint-warning', (message) => this.emit('checkpoint-warning', message));
    this.#vm.on('state', (_state, exit) => {
      if (exit) this.emit('exit', describeExit(exit));
    });
  }

  start(): void {
    this.#vm.start();
  }

  progress(): GuestProgress {
    const mailbox = this.#vm.mailbox();
    return {
      units: mailbox.progress,
      runsDone: mailbox.runsDone,
      lastChecksum: mailbox.runsDone > 0 ? formatChecksum(mailbox.result) : null,
    };
  }

  applySettings(next: CheckpointSettings, previous: CheckpointSettings | null): void {
    applyCheckpointSettings(this.#vm, next, previous);
  }

  checkpointNow(): Promise<number> {
    return this.#vm.checkpointNow();
  }

  async rollback(target: number | 'latest'): Promise<BackendRollback> {
    try {
      return await this.#vm.rollback(target);
    } catch (error) {
      throw new EngineError('rollback-refused', (error as Error).message);
    }
  }

  checkpoints() {
    return this.#vm.listCheckpoints().map(({ seq, time, pages, bytes, verified }) => ({ seq, time, pages, bytes, verified }));
  }

  async inject(request: FaultRequest): Promise<FaultEffect> {
    // Without a seed, one is drawn and reported: every injection can be repeated.
    const seed = request.seed ?? randomInt(2 ** 32);
    const random = seededRandom(seed);
    let fault: Fault;
    try {
      fault = this.#injectNow(request, random);
    } catch (error) {
      const message = (error as Error).message;
      throw new EngineError(/the VM is \w+, it must be/.test(message) ? 'conflict' : 'invalid-argument', message);
    }
    const { description, ...details } = fault;
    return { description, details: { ...jsonSafe(details), seed } };
  }

  #injectNow(request: FaultRequest, random: () => number): Fault {
    const vm = this.#vm;
    switch (request.kind) {
      case 'bit-flip':
        return flipBits(vm, { region: request.region ?? 'data', random, ...pick(request, 'page', 'bits') });
      case 'register':
        return corruptRegister(vm, { random, ...pick(request, 'register', 'bits') });
      case 'hang':
        return makeHang(vm);
      case 'crash':
        return makeCrash(vm);
      case 'checkpoint-page': {
        const seq = request.seq ?? vm.listCheckpoints().at(-1)?.seq;
        if (seq === undefined) throw new Error('no checkpoint is retained to corrupt');
        if (request.page !== undefined) return corruptStoredPage(vm, { seq, pfn: request.page });
        return this.#corruptLikelyStoredPage(seq);
      }
    }
  }

  /** vCPU state can be read only while the guest is paused. */
  #stackPointer(): bigint {
    if (this.#vm.state !== 'running') return this.#vm.getVcpuState(0).regs.rsp;
    this.#vm.pause();
    try {
      return this.#vm.getVcpuState(0).regs.rsp;
    } finally {
      this.#vm.resume();
    }
  }

  /**
   * Without a page named: the mailbox page (the guest writes its progress
   * there as it works) or the page of its stack pointer, whichever the
   * checkpoint stored; a checkpoint stores only the pages written around it.
   */
  #corruptLikelyStoredPage(seq: number): Fault {
    const stackPage = Number(this.#stackPointer() / 4096n);
    const candidates = [mailboxPage, stackPage];
    for (const pfn of candidates) {
      try {
        return corruptStoredPage(this.#vm, { seq, pfn });
      } catch {
        // Not stored in this checkpoint: try the next.
      }
    }
    throw new Error(`checkpoint ${seq} holds no stored copy of the mailbox page (${mailboxPage}) or the stack page (${stackPage}): name a page it stored`);
  }

  destroy(): void {
    this.#vm.destroy();
  }
}

/** Guest page 1 holds the mailbox (page 0 is left unmapped as a null guard). */
const mailboxPage = 1;

function pick<T extends object, K extends keyof T>(from: T, ...keys: K[]): { [P in K]?: NonNullable<T[P]> } {
  const picked: { [P in K]?: NonNullable<T[P]> } = {};
  for (const key of keys) if (from[key] !== undefined && from[key] !== null) picked[key] = from[key] as NonNullable<T[K]>;
  return picked;
}

/** Registers and addresses come as bigints: as hex strings they survive JSON. */
function jsonSafe(value: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))) as Record<string, unknown>;
}

function describeExit(exit: ExitInfo): BackendExit {
  const detail = { reason: exit.reason, message: exit.message, vcpu: exit.vcpu };
  switch (exit.reason) {
    case 'done':
      return { state: 'finished', cause: 'done', reason: `the workload finished (checksum ${formatChecksum(exit.result ?? 0n)})`, detail };
    case 'stopped':
      return { state: 'stopped', cause: 'stopped', reason: exit.message, detail };
    case 'internal-error':
      return { state: 'failed', cause: 'internal', reason: exit.message, detail };
    case 'guest-error':
      return { state: 'crashed', cause: 'guest-error', reason: `${exit.reason}: ${exit.message}`, detail };
    default:
      return { state: 'crashed', cause: 'crash', reason: `${exit.reason}: ${exit.message}`, detail };
  }
}
