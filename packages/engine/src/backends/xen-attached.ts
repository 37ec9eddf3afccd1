// What every VM over an attached Xen domain shares: the checkpoint controls,
// the domain's state turned into how its run ended, and letting go. The
// domain belongs to its toolstack: nothing here creates, unpauses or
// destroys it. Subclasses say what they watch in the guest (start,
// progress) and stop watching in onEnd/onDestroy.
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { seededRandom } from '@uckpt/native-core';
import type { DomainInfo, DomainState, XenDomain } from '@uckpt/native-xen';
import type { CheckpointSettings } from '../config.js';
import { EngineError } from '../errors.js';
import type { FaultEffect, FaultRequest } from '../faults.js';
import { injectXenFault } from './xen-faults.js';
import type { BackendExit, BackendRollback, BackendVm, BackendVmEvents, GuestProgress } from '../backend.js';
import { applyCheckpointSettings } from './apply-settings.js';

export abstract class AttachedXenVm extends EventEmitter<BackendVmEvents> implements BackendVm {
  readonly backend = 'xen';
  readonly simulated = false;
  protected readonly domain: XenDomain;
  /** The run ended (a crash may still be revived by a rollback). */
  protected ended = false;

  constructor(domain: XenDomain) {
    super();
    this.domain = domain;
    domain.on('epoch', (epoch) => this.emit('epoch', epoch));
    domain.on('checkpoint-error', (message) => this.emit('checkpoint-error', message));
    domain.on('state', (state, info) => this.#onDomainState(state, info));
  }

  abstract start(): void;
  abstract progress(): GuestProgress;

  applySettings(next: CheckpointSettings, previous: CheckpointSettings | null): void {
    try {
      applyCheckpointSettings(this.domain, next, previous);
    } catch (error) {
      throw new EngineError('invalid-argument', (error as Error).message);
    }
    if (!next.enabled) return;
    const { fallbackReason } = this.domain.stats();
    if (next.mode === 'cow' && fallbackReason) {
      this.emit('checkpoint-warning', `copy-on-write is not available, checkpointing uses stop-and-copy: ${fallbackReason}`);
    }
  }

  checkpointNow(): Promise<number> {
    return this.domain.checkpointNow();
  }

  /** Also revives a crashed domain (on_crash="preserve"): its run goes on. */
  async rollback(target: number | 'latest'): Promise<BackendRollback> {
    let result;
    try {
      result = await this.domain.rollback(target);
    } catch (error) {
      throw new EngineError('rollback-refused', (error as Error).message);
    }
    if (result.revived) {
      this.ended = false;
      this.onRevived();
    }
    return result;
  }

  checkpoints() {
    return this.domain.listCheckpoints().map(({ seq, time, pages, bytes, verified }) => ({ seq, time, pages, bytes, verified }));
  }

  async inject(request: FaultRequest): Promise<FaultEffect> {
    if (this.ended) throw new EngineError('conflict', `the domain is ${this.domain.state}: faults are injected into a running one`);
    // Without a seed, one is drawn and reported: every injection can be repeated.
    const seed = request.seed ?? randomInt(2 ** 32);
    try {
      const effect = injectXenFault(this.domain, request, seededRandom(seed));
      return { description: effect.description, details: { ...effect.details, seed } };
    } catch (error) {
      throw new EngineError('invalid-argument', (error as Error).message);
    }
  }

  /** Lets go of the domain, which runs on, untouched, with log-dirty off. */
  destroy(): void {
    this.onDestroy();
    this.domain.detach();
  }

  /** A revived domain runs again: watch it again. */
  protected onRevived(): void {}
  protected abstract onDestroy(): void;

  protected end(exit: BackendExit): void {
    this.ended = true;
    this.emit('exit', exit);
  }

  #onDomainState(state: DomainState, info: DomainInfo | null): void {
    if (this.ended || state === 'running' || state === 'paused' || state === 'detached') return;
    const detail = { domainState: state, shutdownReason: info?.shutdownReason ?? null };
    if (state === 'crashed') return this.end({ state: 'crashed', cause: 'crash', reason: 'the domain crashed', detail });
    const why = state === 'shutdown' ? `the domain shut down (${info?.shutdownReason ?? 'unknown reason'})` : 'the domain was destroyed';
    this.end({ state: 'stopped', cause: 'stopped', reason: why, detail });
  }
}
