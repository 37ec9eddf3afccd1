// What this host is, for an operator (GET /api/host, the dashboard's header)
// and for `uckpt serve --hypervisor auto`: which hypervisor the service
// uses, whether KVM itself runs under software emulation (the KVM rig,
// e2e/kvm-rig), and what the host lacks with what to install.
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { backendUnavailable } from './backends/availability.js';

/**
 * How KVM is provided: `pvm` is kvm_pvm (software virtualization: guest
 * kernel code is emulated, platform.md), `hardware` is kvm_intel or kvm_amd
 * (VMX or SVM, real or emulated by QEMU).
 */
export type KvmFlavor = 'pvm' | 'hardware' | 'unknown';

export interface HostInfo {
  /** The hypervisor the service protects VMs on; null when it has none. */
  hypervisor: 'kvm' | 'xen' | null;
  /** The hypervisor's version: the kernel release for KVM, Xen's own for Xen. */
  version: string | null;
  kvmFlavor: KvmFlavor | null;
  /**
   * KVM runs nested under software emulation (QEMU's TCG, the KVM rig):
   * every checkpoint works, but faults and exits cost 10-40x more than on
   * a real host, so timings and overhead are not representative.
   */
  emulated: boolean;
  /** What each backend can do here: null when usable, else why not and what to do. */
  backends: { kvm: string | null; xen: string | null };
  /** What this host lacks for protecting VMs, each with its remedy; empty when nothing. */
  lacks: string[];
}

/** Where the facts come from: the real files, or a test's. */
export interface HostProbe {
  unavailable(backend: 'kvm' | 'xen'): string | null;
  exists(path: string): boolean;
  read(path: string): string | null;
  env: NodeJS.ProcessEnv;
  kernelRelease: string;
}

const realProbe: HostProbe = {
  unavailable: backendUnavailable,
  exists: existsSync,
  read(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return null;
    }
  },
  env: process.env,
  kernelRelease: release(),
};

export function describeHost(probe: HostProbe = realProbe): HostInfo {
  const kvm = probe.unavailable('kvm');
  const xen = probe.unavailable('xen');
  const hypervisor = xen === null ? 'xen' : kvm === null ? 'kvm' : null;
  return {
    hypervisor,
    version: hypervisor === 'xen' ? xenVersion(probe) : hypervisor === 'kvm' ? probe.kernelRelease : null,
    kvmFlavor: hypervisor === 'kvm' ? kvmFlavor(probe) : null,
    emulated: hypervisor === 'kvm' && underEmulation(probe),
    backends: { kvm, xen },
    lacks: hypervisor ? [] : [kvm, xen].filter((why): why is string => why !== null),
  };
}

function kvmFlavor(probe: HostProbe): KvmFlavor {
  if (probe.exists('/sys/module/kvm_pvm')) return 'pvm';
  if (probe.exists('/sys/module/kvm_intel') || probe.exists('/sys/module/kvm_amd')) return 'hardware';
  return 'unknown';
}

/**
 * Whether this kernel runs on QEMU's software emulation: the rig says so
 * (UCKPT_KVM_RIG, set by e2e/kvm-rig/rig.sh), and TCG names its CPU.
 */
function underEmulation(probe: HostProbe): boolean {
  if (probe.env.UCKPT_KVM_RIG === '1') return true;
  return /^model name\s*:\s*QEMU TCG CPU/m.test(probe.read('/proc/cpuinfo') ?? '');
}

function xenVersion(probe: HostProbe): string | null {
  const part = (name: string) => probe.read(`/sys/hypervisor/version/${name}`)?.trim();
  const major = part('major');
  const minor = part('minor');
  if (major === undefined || minor === undefined) return null;
  return `${major}.${minor}${part('extra') ?? ''}`;
}
