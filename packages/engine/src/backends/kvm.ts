// The KVM backend: each VM is a native-kvm Vm running one of the project's
// guest workload images, checkpointed by the native epoch loop.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { findWorkload, formatChecksum, guestImagePath, Vm, type ExitInfo } from '@uckpt/native-kvm';
import type { CheckpointSettings, VmSpec } from '../config.js';
import { EngineError } from '../errors.js';
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

  destroy(): void {
    this.#vm.destroy();
  }
}

function describeExit(exit: ExitInfo): BackendExit {
  switch (exit.reason) {
    case 'done':
      return { state: 'finished', reason: `the workload finished (checksum ${formatChecksum(exit.result ?? 0n)})` };
    case 'stopped':
      return { state: 'stopped', reason: exit.message };
    case 'internal-error':
      return { state: 'failed', reason: exit.message };
    default:
      return { state: 'crashed', reason: `${exit.reason}: ${exit.message}` };
  }
}
