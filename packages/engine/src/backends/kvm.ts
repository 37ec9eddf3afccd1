// The KVM backend: each VM is a native-kvm Vm running one of the project's
// guest workload images, checkpointed by the native epoch loop.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { findWorkload, formatChecksum, guestImagePath, Vm, type ExitInfo } from '@uckpt/native-kvm';
import type { CheckpointSettings, VmSpec } from '../config.js';
import { EngineError } from '../errors.js';
import type { FaultEffect, FaultRequest } from '../faults.js';
import type { Backend, BackendExit, BackendRollback, BackendVm, BackendVmEvents, GuestProgress } from '../backend.js';

export class KvmBackend implements Backend {
  readonly name = 'kvm';
  readonly simulated = false;

  createVm(spec: VmSpec): BackendVm {
    if (!existsSync('/dev/kvm')) {
      throw new EngineError('backend-unavailable', 'this host has no /dev/kvm: load kvm-intel or kvm-amd, or enable nested virtualization');
    }
    if (!existsSync(guestImagePath)) {
      throw new EngineError('backend-unavailable', `${guestImagePath} is missing: build it with \`bash scripts/setup.sh\``);
    }
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
    const wasOn = previous?.enabled ?? false;
    if (!next.enabled) {
      if (wasOn) this.#vm.disableCheckpointing();
      return;
    }
    const { intervalMs, retention, mode, predictor } = next;
    // A change of mode drops the retained checkpoints and starts over.
    if (wasOn) this.#vm.configureCheckpointing({ intervalMs, retention, mode, predictor });
    else this.#vm.enableCheckpointing({ intervalMs, retention, mode, predictor });
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
    switch (request.kind) {
      case 'checkpoint-page':
        return this.#corruptStoredPage(request);
      default:
        throw new EngineError('unsupported', `${request.kind} faults are not available on KVM VMs yet (the VMM has no injection primitive for them)`);
    }
  }

  /** By default the mailbox page: the guest writes its progress there every epoch, so every checkpoint stores it. */
  #corruptStoredPage(request: FaultRequest): FaultEffect {
    const retained = this.#vm.listCheckpoints();
    const seq = request.seq ?? retained.at(-1)?.seq;
    if (seq === undefined) throw new EngineError('invalid-argument', 'no checkpoint is retained to corrupt');
    const page = request.page ?? mailboxPage;
    try {
      this.#vm.testCorruptStoredPage(seq, page);
    } catch (error) {
      throw new EngineError('invalid-argument', (error as Error).message);
    }
    return { description: `flipped a bit in the stored copy of guest page ${page} of checkpoint ${seq}`, details: { seq, page } };
  }

  destroy(): void {
    this.#vm.destroy();
  }
}

/** Guest page 1 holds the mailbox (page 0 is left unmapped as a null guard). */
const mailboxPage = 1;

function describeExit(exit: ExitInfo): BackendExit {
  const detail = { reason: exit.reason, vcpu: exit.vcpu };
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
