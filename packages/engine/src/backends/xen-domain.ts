// Any PVH domain (a Linux guest above all), protected without guest code of
// ours. What the detectors see of it:
// - a crash: the domain's shutdown reason (Linux reports a panic as a crash;
//   with on_crash="preserve" the domain stays, and a rollback revives it);
// - progress: the counter of the heartbeat agent (packages/guest/linux,
//   `uckpt-xs heartbeat data/uckpt-heartbeat MS`), where the guest runs it;
//   without it a hung service is not detected, and the VM says so;
// - its vCPUs: run time and instruction pointers, for a kernel that stopped
//   running or spins in one place (the vcpu-progress detector);
// - its console: xenconsoled's log of it, line by line.
import type { XenDomain } from '@uckpt/native-xen';
import type { GuestProgress, VcpuActivity } from '../backend.js';
import { ConsoleLogTail } from './console-log-tail.js';
import { AttachedXenVm } from './xen-attached.js';

/** The heartbeat agent's key, under the domain's xenstore home. */
export const heartbeatKey = 'data/uckpt-heartbeat';
const watchMs = 200;

export class XenDomainVm extends AttachedXenVm {
  readonly #console: ConsoleLogTail;
  #watch: NodeJS.Timeout | undefined;
  #beats: number | null = null;
  #ticks = 0;
  #warnedNoHeartbeat = false;
  #readFailing = false;

  /** `consoleLog`: where xenconsoled logs this domain's console. */
  constructor(domain: XenDomain, consoleLog: string) {
    super(domain);
    this.#console = new ConsoleLogTail(consoleLog);
  }

  /** The domain runs already (its toolstack started it): this only starts watching it. */
  start(): void {
    if (!this.#console.available()) {
      this.emit('checkpoint-warning', `the console is not shown: ${this.#console.missingReason()}`);
    }
    this.#watch = setInterval(() => this.#look(), watchMs);
  }

  /**
   * The heartbeat count where the guest runs the agent; else a count that
   * always advances, so that the hang detector, which has nothing to go
   * by, never fires.
   */
  progress(): GuestProgress {
    return { units: this.#beats ?? this.#ticks, runsDone: 0, lastChecksum: null };
  }

  vcpuActivity(): VcpuActivity[] {
    return this.domain.vcpus().filter((v) => v.online);
  }

  protected onDestroy(): void {
    clearInterval(this.#watch);
    this.#console.close();
  }

  #look(): void {
    this.#ticks++;
    for (const line of this.#console.newLines()) this.emit('console', line);
    if (this.ended) return;
    let value: string | null = null;
    try {
      value = this.domain.readXenstore(heartbeatKey);
      this.#readFailing = false;
    } catch (error) {
      // The heartbeat is unknown meanwhile, not stalled: say so once a streak.
      if (!this.#readFailing) this.emit('checkpoint-warning', `the heartbeat key cannot be read: ${(error as Error).message}`);
      this.#readFailing = true;
      return;
    }
    // The guest writes this key: only a plain decimal count is believed.
    const beats = value !== null && /^\d{1,15}$/.test(value) ? Number(value) : null;
    if (beats !== null) {
      this.#beats = beats;
    } else if (this.#beats === null && !this.#warnedNoHeartbeat && this.#ticks * watchMs >= 10_000) {
      this.#warnedNoHeartbeat = true;
      this.emit(
        'checkpoint-warning',
        `no heartbeat in xenstore (${heartbeatKey}): a hung service in this guest is not detected (its kernel is still watched through its vCPUs); run the heartbeat agent in it ` +
          '(packages/guest/linux/uckpt-xs.c: `uckpt-xs heartbeat data/uckpt-heartbeat 200`)',
      );
    }
  }
}
