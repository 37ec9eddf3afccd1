// vCPU progress: what the hypervisor sees of a guest's vCPUs, with no guest
// code of ours. Two ways a kernel stops making progress:
// - it stopped running: no vCPU ran at all for the whole window (a Linux
//   kernel wakes every few seconds for its own timers, idle or not, so this
//   is a guest waiting for an event that never comes);
// - it spins in one place: a vCPU ran most of the window in kernel mode
//   with nearly every sampled instruction pointer within a few
//   instructions (a deadlocked spinlock, a loop waiting on a flag no one
//   sets; the interrupts it still takes account for the rest).
// The window is the hang timeout, as for the heartbeat: kernels pause for
// seconds legitimately (more so under software emulation), so guests
// without our workload's fine-grained progress get a long one
// (guestKernelSettings).
import type { VcpuActivity } from '../../backend.js';
import type { CheckpointSettings } from '../../config.js';
import type { Detection, Detector, Observation } from './detector.js';

/** Sampled instruction pointers this close together are one place. */
const spinSpanBytes = 256n;
/** A spinning vCPU was sampled there at least this share of the window... */
const spinSampleShare = 0.8;
/** ...and ran at least this share of it. */
const spinRunShare = 0.5;

interface Sample {
  time: number;
  cpuTimeNs: number;
  /** In the kernel and not halted: where it was. */
  kernelRip: bigint | null;
}

export class VcpuProgressDetector implements Detector {
  readonly name = 'vcpu-progress';
  readonly #samplePeriodMs: number;
  #ran: { since: number; cpuTimeNs: number } | null = null;
  #samples = new Map<number, Sample[]>(); // by vCPU, the last window's
  #fired = false;

  constructor(samplePeriodMs: number) {
    this.#samplePeriodMs = samplePeriodMs;
  }

  /** A stall is seen a window after the sample before it began, one sample late at most. */
  latencyBoundMs(settings: CheckpointSettings): number {
    return settings.hangTimeoutMs + 2 * this.#samplePeriodMs;
  }

  observe({ now, state, vcpus, settings }: Observation): Detection[] {
    if (state !== 'running' || !vcpus || vcpus.length === 0) {
      this.reset();
      return [];
    }
    const windowMs = settings.hangTimeoutMs;
    const stopped = this.#stopped(now, vcpus, windowMs);
    const stall = this.#spinning(now, vcpus, windowMs) ?? stopped;
    if (!stall) {
      this.#fired = false; // the stall is over: the next one is new
      return [];
    }
    if (this.#fired) return [];
    this.#fired = true; // one alert per stall
    return [{ detector: this.name, time: now, ...stall, latencyBoundMs: this.latencyBoundMs(settings), recoverable: true }];
  }

  reset(): void {
    this.#ran = null;
    this.#samples.clear();
    this.#fired = false;
  }

  #stopped(now: number, vcpus: readonly VcpuActivity[], windowMs: number): Stall | null {
    const cpuTimeNs = vcpus.reduce((sum, v) => sum + v.cpuTimeNs, 0);
    if (!this.#ran || cpuTimeNs !== this.#ran.cpuTimeNs) {
      this.#ran = { since: now, cpuTimeNs };
      return null;
    }
    const stoppedMs = Math.round(now - this.#ran.since);
    if (stoppedMs < windowMs) return null;
    return { message: `no vCPU of the guest ran for ${stoppedMs} ms`, evidence: { stoppedMs, cpuTimeNs } };
  }

  #spinning(now: number, vcpus: readonly VcpuActivity[], windowMs: number): Stall | null {
    let found: Stall | null = null;
    for (const v of vcpus) {
      const samples = this.#samples.get(v.vcpu) ?? [];
      samples.push({ time: now, cpuTimeNs: v.cpuTimeNs, kernelRip: v.kernel && !v.blocked ? v.rip : null });
      while (samples.length > 2 && now - samples[1]!.time >= windowMs) samples.shift();
      this.#samples.set(v.vcpu, samples);
      const first = samples[0]!;
      const spunMs = Math.round(now - first.time);
      const ranMs = Math.round((v.cpuTimeNs - first.cpuTimeNs) / 1e6);
      if (found || spunMs < windowMs || ranMs < spinRunShare * spunMs) continue;
      const place = busiestSpan(samples.flatMap((s) => (s.kernelRip === null ? [] : [s.kernelRip])));
      if (!place || place.samples < spinSampleShare * samples.length) continue;
      const at = `0x${place.low.toString(16)}-0x${place.high.toString(16)}`;
      found = {
        message: `vCPU ${v.vcpu} spun in the kernel at ${at} for ${spunMs} ms`,
        evidence: { vcpu: v.vcpu, rip: at, spunMs, ranMs, samplesThere: place.samples, samples: samples.length },
      };
    }
    return found;
  }
}

/** The span of at most spinSpanBytes holding the most of these addresses. */
function busiestSpan(rips: bigint[]): { low: bigint; high: bigint; samples: number } | null {
  const sorted = [...rips].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let best: { low: bigint; high: bigint; samples: number } | null = null;
  for (let start = 0, end = 0; start < sorted.length; start++) {
    while (end < sorted.length && sorted[end]! - sorted[start]! <= spinSpanBytes) end++;
    if (!best || end - start > best.samples) best = { low: sorted[start]!, high: sorted[end - 1]!, samples: end - start };
  }
  return best;
}

interface Stall {
  message: string;
  evidence: Record<string, unknown>;
}

