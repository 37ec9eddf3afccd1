import { describe, expect, it } from 'vitest';
import type { VcpuActivity } from '../src/backend.js';
import { defaultSettings } from '../src/config.js';
import { VcpuProgressDetector } from '../src/agent/detectors/vcpu-progress.js';

const settings = { ...defaultSettings, hangTimeoutMs: 1000 };
const look = (detector: VcpuProgressDetector, now: number, vcpus: VcpuActivity[] | null, state: 'running' | 'paused' = 'running') =>
  detector.observe({ now, state, progress: { units: 0, runsDone: 0, lastChecksum: null }, checkpoints: [], consoleLines: [], vcpus, settings });
const vcpu = (cpuTimeNs: number, rip: bigint, { kernel = true, blocked = false, id = 0 } = {}): VcpuActivity => ({ vcpu: id, cpuTimeNs, rip, kernel, blocked });

describe('vCPU progress detector', () => {
  it('a guest whose vCPUs ran no more for the window stopped running; one alert per stall', () => {
    const detector = new VcpuProgressDetector(250);
    const idle = () => [vcpu(5e9, 0xffffffff81000000n, { blocked: true }), vcpu(7e9, 0xffffffff81000000n, { blocked: true, id: 1 })];
    expect(look(detector, 0, idle())).toEqual([]);
    expect(look(detector, 999, idle())).toEqual([]);
    const [alert, ...more] = look(detector, 1000, idle());
    expect(more).toEqual([]);
    expect(alert).toMatchObject({ detector: 'vcpu-progress', time: 1000, recoverable: true, latencyBoundMs: 1500, evidence: { stoppedMs: 1000 } });
    expect(alert!.message).toBe('no vCPU of the guest ran for 1000 ms');
    expect(look(detector, 3000, idle())).toEqual([]);
    // It runs again, then stops again: a new stall.
    expect(look(detector, 3250, [vcpu(5.001e9, 1n, { blocked: true }), vcpu(7e9, 1n, { blocked: true, id: 1 })])).toEqual([]);
    expect(look(detector, 4250, [vcpu(5.001e9, 1n, { blocked: true }), vcpu(7e9, 1n, { blocked: true, id: 1 })])).toHaveLength(1);
  });

  it('a vCPU running in the kernel within a few instructions for the window spins in one place', () => {
    const detector = new VcpuProgressDetector(250);
    const spinAt = [0xffffffff81234500n, 0xffffffff81234508n, 0xffffffff812345f0n, 0xffffffff81234504n, 0xffffffff81234500n];
    let alerts = spinAt.flatMap((rip, i) => look(detector, i * 250, [vcpu(1e9 + i * 250e6, rip)]));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ detector: 'vcpu-progress', evidence: { vcpu: 0, rip: '0xffffffff81234500-0xffffffff812345f0', spunMs: 1000, ranMs: 1000 } });
    expect(alerts[0]!.message).toBe('vCPU 0 spun in the kernel at 0xffffffff81234500-0xffffffff812345f0 for 1000 ms');

    // Interrupts it still takes land elsewhere now and then: still a spin.
    const withInterrupts = new VcpuProgressDetector(250);
    const rips = Array.from({ length: 9 }, (_, i) => (i === 4 ? 0xffffffff81c00000n : 0xffffffff81234500n));
    alerts = rips.flatMap((rip, i) => look(withInterrupts, i * 125, [vcpu(1e9 + i * 125e6, rip)]));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.evidence).toMatchObject({ samplesThere: 8, samples: 9 });

    // Busy elsewhere in the kernel, in user space, halted, or barely running: no spin.
    const cases: VcpuActivity[][] = [
      [0n, 0x100n, 0x200n, 0x300n, 0x400n].map((d, i) => vcpu(1e9 + i * 250e6, 0xffffffff81000000n + d)),
      spinAt.map((rip, i) => vcpu(1e9 + i * 250e6, rip, { kernel: false })),
      spinAt.map((rip, i) => vcpu(1e9 + i * 250e6, rip, { blocked: true })),
      spinAt.map((rip, i) => vcpu(1e9 + i * 50e6, rip)),
    ];
    for (const samples of cases) {
      const fresh = new VcpuProgressDetector(250);
      alerts = samples.flatMap((sample, i) => look(fresh, i * 250, [sample]));
      expect(alerts).toEqual([]);
    }
  });

  it('watches only a running guest whose backend reports its vCPUs, and forgets on a rollback', () => {
    const detector = new VcpuProgressDetector(250);
    expect(look(detector, 0, null)).toEqual([]);
    expect(look(detector, 5000, null)).toEqual([]);
    const still = [vcpu(1e9, 0n, { blocked: true })];
    expect(look(detector, 0, still, 'paused')).toEqual([]);
    expect(look(detector, 5000, still, 'paused')).toEqual([]);
    expect(look(detector, 5000, still)).toEqual([]);
    detector.reset();
    expect(look(detector, 5900, still)).toEqual([]);
    expect(look(detector, 6900, still)).toHaveLength(1);
  });
});
