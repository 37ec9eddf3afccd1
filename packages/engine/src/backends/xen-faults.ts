// Fault injection into an attached Xen domain, whatever runs in it (a Linux
// kernel above all): memory through dom0's foreign mapping, registers
// through the HVM context, a hang written where vCPU 0 runs, a crash as a
// kernel panic reports one. A bit flip's region is any page of the guest's
// RAM ('data', `page` naming the frame), the page vCPU 0 executes ('code')
// or the page of its stack pointer ('stack'), both found by walking its
// page tables. Every change is made with the domain paused, and the pages
// written go into the next checkpoint as the guest's own writes do.
import type { VcpuSample, XenDomain } from '@uckpt/native-xen';
import { faultRegisters, type FaultEffect, type FaultRequest, type FaultRegister } from '../faults.js';

const PAGE = 4096n;
const frameMask = 0x000ffffffffff000n;
/** Random frames tried for a 'data' flip before giving up: holes and Xen's frames are skipped. */
const dataTries = 64;

/** Reads 8 bytes of guest-physical memory, little-endian. */
export type ReadQword = (gpa: bigint) => bigint;

/**
 * The guest-physical address of virtual address `va` under the page tables
 * at `cr3` (4 levels, or 5 when CR4.LA57 is set; 1 GiB and 2 MiB pages
 * included), or null where nothing is mapped.
 */
export function guestPhysical(readQword: ReadQword, cr3: bigint, cr4: bigint, va: bigint): bigint | null {
  const levels = (cr4 >> 12n) & 1n ? 5 : 4;
  let table = cr3 & frameMask;
  for (let level = levels; level >= 1; level--) {
    const shift = 12n + 9n * BigInt(level - 1);
    const entry = readQword(table + ((va >> shift) & 0x1ffn) * 8n);
    if (!(entry & 1n)) return null;
    const large = (level === 2 || level === 3) && entry & 0x80n;
    if (level === 1 || large) {
      const offsetMask = (1n << shift) - 1n;
      return (entry & frameMask & ~offsetMask) | (va & offsetMask);
    }
    table = entry & frameMask;
  }
  return null;
}

type Random = () => number;

export function injectXenFault(domain: XenDomain, request: FaultRequest, random: Random): FaultEffect {
  switch (request.kind) {
    case 'bit-flip':
      return flipMemoryBits(domain, request, random);
    case 'register':
      return flipRegisterBits(domain, request, random);
    case 'hang':
      return writeSpinLoop(domain);
    case 'crash':
      domain.crash();
      return { description: 'the domain was shut down as crashed, as a kernel panic does', details: { how: 'SHUTDOWN_crash' } };
    case 'checkpoint-page':
      return corruptStoredPage(domain, request);
  }
}

function vcpu0(domain: XenDomain): VcpuSample {
  const vcpu = domain.vcpus().find((v) => v.vcpu === 0 && v.online);
  if (!vcpu) throw new Error('vCPU 0 is offline');
  return vcpu;
}

/** The guest-physical address of `va` as vCPU 0 sees it now. */
function physicalOf(domain: XenDomain, va: bigint, what: string): bigint {
  const { cr3, cr4 } = vcpu0(domain);
  const readQword: ReadQword = (gpa) => domain.readMemory(gpa, 8).readBigUInt64LE(0);
  const gpa = guestPhysical(readQword, cr3, cr4, va);
  if (gpa === null) throw new Error(`${what} 0x${va.toString(16)} is not mapped in vCPU 0's page tables`);
  return gpa;
}

/** Runs `change` with the domain paused, so that the guest sees it whole. */
function paused<T>(domain: XenDomain, change: () => T): T {
  domain.pause();
  try {
    return change();
  } finally {
    domain.resume();
  }
}

function flipMemoryBits(domain: XenDomain, request: FaultRequest, random: Random): FaultEffect {
  const region = request.region ?? 'data';
  const bits = request.bits ?? 1;
  if (region !== 'data' && request.page !== undefined) throw new Error(`page applies to region data on Xen domains (the ${region} region is one page)`);
  return paused(domain, () => {
    const pageGpa = region === 'data' ? dataPage(domain, request.page, random) : pageOf(domain, region);
    const page = domain.readMemory(pageGpa, Number(PAGE));
    const flips = [];
    for (let i = 0; i < bits; i++) {
      const offset = Math.floor(random() * Number(PAGE));
      const bit = Math.floor(random() * 8);
      const oldByte = page[offset]!;
      page[offset] = oldByte ^ (1 << bit);
      flips.push({ gpa: `0x${(pageGpa + BigInt(offset)).toString(16)}`, bit, oldByte, newByte: page[offset]! });
    }
    domain.writeMemory(pageGpa, page);
    return {
      description: `flipped ${bits} bit${bits === 1 ? '' : 's'} in guest frame ${pageGpa / PAGE} (${region})`,
      details: { region, frame: Number(pageGpa / PAGE), flips },
    };
  });
}

/** A frame of the guest's RAM: the one named, or a random one (holes and Xen's frames skipped). */
function dataPage(domain: XenDomain, frame: number | undefined, random: Random): bigint {
  const frames = domain.info().frames;
  if (frame !== undefined) {
    if (frame >= frames || !domain.guestRam(frame)) throw new Error(`page ${frame} is not a frame of the guest's RAM (a hole, Xen's, or past its last, ${frames - 1})`);
    return BigInt(frame) * PAGE;
  }
  for (let i = 0; i < dataTries; i++) {
    const frame = Math.floor(random() * frames);
    if (domain.guestRam(frame)) return BigInt(frame) * PAGE;
  }
  throw new Error(`no frame of the guest's RAM found in ${dataTries} random tries`);
}

function pageOf(domain: XenDomain, region: 'code' | 'stack'): bigint {
  const { rip, rsp } = vcpu0(domain);
  const va = region === 'code' ? rip : rsp;
  return physicalOf(domain, va, region === 'code' ? 'the instruction pointer' : 'the stack pointer') & ~(PAGE - 1n);
}

function flipRegisterBits(domain: XenDomain, request: FaultRequest, random: Random): FaultEffect {
  const register: FaultRegister = request.register ?? faultRegisters[Math.floor(random() * faultRegisters.length)]!;
  const count = request.bits ?? 1;
  const bits = new Set<number>();
  while (bits.size < count) bits.add(Math.floor(random() * 64));
  const mask = [...bits].reduce((m, bit) => m | (1n << BigInt(bit)), 0n);
  const { before, after } = domain.flipRegister(0, register, mask);
  return {
    description: `flipped bit${count === 1 ? '' : 's'} ${[...bits].sort((a, b) => a - b).join(', ')} of vCPU 0's ${register}`,
    details: { vcpu: 0, register, bits: [...bits], oldValue: `0x${before.toString(16)}`, newValue: `0x${after.toString(16)}` },
  };
}

/** `jmp .` (EB FE) over the instruction vCPU 0 runs next: it, and any vCPU that comes there, spins in place. */
function writeSpinLoop(domain: XenDomain): FaultEffect {
  return paused(domain, () => {
    const { rip } = vcpu0(domain);
    const at = [physicalOf(domain, rip, 'the instruction pointer'), physicalOf(domain, rip + 1n, 'the instruction pointer')];
    const old = at.map((gpa) => domain.readMemory(gpa, 1)[0]!);
    domain.writeMemory(at[0]!, Buffer.from([0xeb]));
    domain.writeMemory(at[1]!, Buffer.from([0xfe]));
    return {
      description: `vCPU 0 now spins at 0x${rip.toString(16)}: a jmp . written over its next instruction`,
      details: { rip: `0x${rip.toString(16)}`, gpa: `0x${at[0]!.toString(16)}`, oldBytes: old },
    };
  });
}

/** Without a page named, the page of vCPU 0's stack, which the guest writes as it runs. */
function corruptStoredPage(domain: XenDomain, request: FaultRequest): FaultEffect {
  const seq = request.seq ?? domain.listCheckpoints().at(-1)?.seq;
  if (seq === undefined) throw new Error('no checkpoint is retained to corrupt');
  const frame = request.page ?? Number(paused(domain, () => pageOf(domain, 'stack')) / PAGE);
  try {
    domain.testCorruptStoredPage(seq, frame);
  } catch (error) {
    const hint = request.page === undefined ? ` (the page of vCPU 0's stack, ${frame}): name a page it stored` : '';
    throw new Error(`${(error as Error).message}${hint}`);
  }
  return { description: `corrupted the stored copy of guest frame ${frame} in checkpoint ${seq}`, details: { seq, frame } };
}
