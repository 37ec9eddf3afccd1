// The Xen backend, for a service in dom0: each VM is an existing domain,
// attached by its domid and checkpointed by the shared native epoch loop
// over Xen's log-dirty mode. The domain belongs to its toolstack: the agent
// never creates, unpauses or destroys it, and detaching leaves it running.
// A domain running the uckpt workload image is watched through the image's
// mailbox (XenVm, below); any other PVH domain, a Linux guest above all,
// through what Xen and dom0 see of it (XenDomainVm).
import { formatChecksum, type Mailbox } from '@uckpt/guest';
import { listDomains, XenDomain } from '@uckpt/native-xen';
import type { VmSpec } from '../config.js';
import { EngineError } from '../errors.js';
import type { Backend, BackendExit, BackendVm, GuestProgress } from '../backend.js';
import { AttachedXenVm } from './xen-attached.js';
import { XenDomainVm } from './xen-domain.js';

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
    if (domain.mailbox()) return new XenVm(domain);
    const summary = listDomains().find((d) => d.domid === spec.domid);
    if (summary?.type === 'hvm') {
      domain.detach();
      throw new EngineError(
        'invalid-argument',
        `domain ${spec.domid} is an HVM guest: its emulated devices' state lives in QEMU, outside the memory and vCPUs a ` +
          'rollback restores, so it would come back torn from its devices; only PVH domains can be protected',
      );
    }
    return new XenDomainVm(domain, `/var/log/xen/console/guest-${summary?.name ?? spec.domid}.log`);
  }
}

/** A domain running the uckpt workload image, watched through its mailbox. */
class XenVm extends AttachedXenVm {
  #watch: NodeJS.Timeout | undefined;
  #progress: GuestProgress = { units: 0, runsDone: 0, lastChecksum: null };

  /** The domain runs already (its toolstack started it): this only starts watching how its run ends. */
  start(): void {
    this.#watch = setInterval(() => this.#checkMailbox(), mailboxWatchMs);
  }

  /** As the mailbox says, or as it last said once the domain is gone. */
  progress(): GuestProgress {
    this.#readMailbox();
    return this.#progress;
  }

  protected override onRevived(): void {
    clearInterval(this.#watch);
    this.start();
  }

  protected onDestroy(): void {
    clearInterval(this.#watch);
  }

  protected override end(exit: BackendExit): void {
    clearInterval(this.#watch);
    super.end(exit);
  }

  /** The mailbox now, which also refreshes the progress; null once the domain's memory is gone. */
  #readMailbox(): Mailbox | null {
    let mailbox: Mailbox | null;
    try {
      mailbox = this.domain.mailbox();
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
    if (this.ended) return;
    const mailbox = this.#readMailbox();
    if (!mailbox) return;
    const detail = { status: mailbox.status, error: mailbox.error };
    switch (mailbox.status) {
      case statusDone:
        return this.end({ state: 'finished', cause: 'done', reason: `the workload finished (checksum ${formatChecksum(mailbox.result)})`, detail });
      case statusFailed:
        return this.end({ state: 'crashed', cause: 'guest-error', reason: `guest-error: ${mailbox.error}`, detail });
      case statusException:
      case statusBadParams:
        return this.end({ state: 'crashed', cause: 'crash', reason: `the guest stopped: ${mailbox.error || `status ${mailbox.status}`}`, detail });
    }
  }
}
