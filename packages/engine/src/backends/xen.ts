// The Xen backend, for a service in dom0: each VM is an existing PVH or HVM
// domain, attached by its domid and checkpointed by the shared native epoch
// loop over Xen's log-dirty mode. The domain belongs to its toolstack: the
// agent never creates, unpauses or destroys it, and detaching leaves it
// running. Its progress comes from the uckpt workload image's mailbox,
// which is what the detectors watch.
import { EventEmitter } from 'node:events';
import { formatChecksum, type Mailbox } from '@uckpt/guest';
import { XenDomain, type DomainInfo, type DomainState } from '@uckpt/native-xen';
import type { CheckpointSettings, VmSpec } from '../config.js';
import { EngineError } from '../errors.js';
import { applyCheckpointSettings } from './apply-settings.js';
import type { FaultEffect } from '../faults.js';
import type { Backend, BackendExit, BackendRollback, BackendVm, BackendVmEvents, GuestProgress } from '../backend.js';

const statusDone = 2;
const statusFailed = 3;
const statusException = 4;
const statusBadParams = 5;
const mailboxWatchMs = 100;

export class XenBackend implements Backend {
  readonly name = 'xen';
  readonly simulated = false;

  createVm(spec: VmSpec): BackendVm {
    if (spec.domid === undefined) throw new EngineError('invalid-argument', 'a Xen VM needs the domid of the domain to protect');
    let domain: XenDomain;
    try {
      domain = XenDomain.attach(spec.domid);
    } catch (error) {
      const message = (error as Error).message;
      const unavailable = /no Xen hypervisor|addon is not built|could not be loaded/.test(message);
      throw new EngineError(unavailable ? 'backend-unavailable' : 'invalid-argument', message);
    }
    if (!domain.mailbox()) {
      domain.detach();
      throw new EngineError(
        'invalid-argument',
        `domain ${spec.domid} does not run a uckpt workload image (no mailbox at 0x1000): its progress cannot be watched, ` +
          'so the detectors could not tell a hang; only workload-image domains can be protected for now',
      );
    }
    return new XenVm(domain);
  }
}

class XenVm extends EventEmitter<BackendVmEvents> implements BackendVm {
  readonly backend = 'xen';
  readonly simulated = false;
  readonly #domain: XenDomain;
  #watch: NodeJS.Timeout | undefined;
  #ended = false;
  #progress: GuestProgress = { units: 0, runsDone: 0, lastChecksum: null };

  constructor(domain: XenDomain) {
    super();
    this.#domain = domain;
    domain.on('epoch', (epoch) => this.emit('epoch', epoch));
    domain.on('checkpoint-error', (message) => this.emit('checkpoint-error', message));
    domain.on('state', (state, info) => this.#onDomainState(state, info));
  }

  /** The domain runs already (its toolstack started it): this only starts watching how its run ends. */
  start(): void {
    this.#watch = setInterval(() => this.#checkMailbox(), mailboxWatchMs);
  }

  /** As the mailbox says, or as it last said once the domain is gone. */
  progress(): GuestProgress {
    this.#readMailbox();
    return this.#progress;
  }

  applySettings(next: CheckpointSettings, previous: CheckpointSettings | null): void {
    try {
      applyCheckpointSettings(this.#domain, next, previous);
    } catch (error) {
      throw new EngineError('invalid-argument', (error as Error).message);
    }
    if (!next.enabled) return;
    const { fallbackReason } = this.#domain.stats();
    if (next.mode === 'cow' && fallbackReason) {
      this.emit('checkpoint-warning', `copy-on-write is not available, checkpointing uses stop-and-copy: ${fallbackReason}`);
    }
  }

  checkpointNow(): Promise<number> {
    return this.#domain.checkpointNow();
  }

  async rollback(target: number | 'latest'): Promise<BackendRollback> {
    try {
      return await this.#domain.rollback(target);
    } catch (error) {
      throw new EngineError('rollback-refused', (error as Error).message);
    }
  }

  checkpoints() {
    return this.#domain.listCheckpoints().map(({ seq, time, pages, bytes, verified }) => ({ seq, time, pages, bytes, verified }));
  }

  async inject(): Promise<FaultEffect> {
    throw new EngineError('unsupported', 'fault injection is not implemented for Xen domains yet');
  }

  /** Lets go of the domain, which runs on with log-dirty off. */
  destroy(): void {
    clearInterval(this.#watch);
    this.#domain.detach();
  }

  /** The mailbox now, which also refreshes the progress; null once the domain's memory is gone. */
  #readMailbox(): Mailbox | null {
    let mailbox: Mailbox | null;
    try {
      mailbox = this.#domain.mailbox();
    } catch {
      return null; // destroyed or detached: the domain's state says how it ended
    }
    if (mailbox) {
      this.#progress = {
        units: mailbox.progress,
        runsDone: mailbox.runsDone,
        lastChecksum: mailbox.runsDone > 0 ? formatChecksum(mailbox.result) : null,
      };
    }
    return mailbox;
  }

  #checkMailbox(): void {
    if (this.#ended) return;
    const mailbox = this.#readMailbox();
    if (!mailbox) return;
    const detail = { status: mailbox.status, error: mailbox.error };
    switch (mailbox.status) {
      case statusDone:
        return this.#end({ state: 'finished', cause: 'done', reason: `the workload finished (checksum ${formatChecksum(mailbox.result)})`, detail });
      case statusFailed:
        return this.#end({ state: 'crashed', cause: 'guest-error', reason: `guest-error: ${mailbox.error}`, detail });
      case statusException:
      case statusBadParams:
        return this.#end({ state: 'crashed', cause: 'crash', reason: `the guest stopped: ${mailbox.error || `status ${mailbox.status}`}`, detail });
    }
  }

  #onDomainState(state: DomainState, info: DomainInfo | null): void {
    if (this.#ended || state === 'running' || state === 'paused' || state === 'detached') return;
    const detail = { domainState: state, shutdownReason: info?.shutdownReason ?? null };
    if (state === 'crashed') {
      this.#end({ state: 'crashed', cause: 'crash', reason: 'the domain crashed', detail });
    } else {
      const why = state === 'shutdown' ? `the domain shut down (${info?.shutdownReason ?? 'unknown reason'})` : 'the domain was destroyed';
      this.#end({ state: 'stopped', cause: 'stopped', reason: why, detail });
    }
  }

  #end(exit: BackendExit): void {
    this.#ended = true;
    clearInterval(this.#watch);
    this.emit('exit', exit);
  }
}
