// Fault injection into a running (or paused) VM: the errors that
// checkpoints are meant to recover from, made on purpose. Each primitive
// pauses the guest around its change, and returns what it did, precisely
// enough to be logged as the evidence of an injection campaign.
//
// Every random choice comes from the `random` passed in (a seededRandom),
// so that a campaign repeats exactly from its seed.
import type { Random } from '@uckpt/native-core';
import type { GuestRange, Vm, VcpuState } from './vm.js';

const PAGE = 4096;


/** Where a bit flip lands: the workload's data (its arena), the image's code, or the stack in use. */
export type MemoryRegion = 'data' | 'code' | 'stack';

export const generalRegisters = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip',
] as const;
export type GeneralRegister = (typeof generalRegisters)[number];

export interface FlippedBit {
  /** Guest-physical address of the byte. */
  gpa: number;
  /** 0 (least significant) .. 7. */
  bit: number;
  oldByte: number;
  newByte: number;
}

export interface MemoryFault {
  kind: 'memory';
  region: MemoryRegion;
  /** Page index within the region, and that page's guest-physical address. */
  page: number;
  pageGpa: number;
  /** The region as it was at the time (the stack's part in use). */
  range: GuestRange;
  flips: FlippedBit[];
  description: string;
}

export interface RegisterFault {
  kind: 'register';
  vcpu: 0;
  register: GeneralRegister;
  bits: number[];
  oldValue: bigint;
  newValue: bigint;
  description: string;
}

export interface HangFault {
  kind: 'hang';
  /** Where the vCPU now spins: a `jmp .` written into the scratch area. */
  loopGpa: number;
  oldRip: bigint;
  description: string;
}

export type CrashHow = 'exception' | 'triple-fault';

export interface CrashFault {
  kind: 'crash';
  how: CrashHow;
  oldRip: bigint;
  description: string;
}

export interface StoredPageFault {
  kind: 'stored-page';
  seq: number;
  pfn: number;
  description: string;
}

export type Fault = MemoryFault | RegisterFault | HangFault | CrashFault | StoredPageFault;

/**
 * Flips `bits` distinct bits (default 1) in one page of a region: the page
 * given (an index within the region) or a random one.
 *
 * The stack is taken as the part in use, from the page holding vCPU 0's
 * RSP to the top: a flip in the untouched rest could never matter. Data is
 * the workload's arena as the guest reported it, so it exists only once the
 * workload has started. The write is the VMM's own and is tracked like the
 * guest's (a rollback undoes it).
 */
export function flipBits(
  vm: Vm,
  options: { region: MemoryRegion; page?: number | undefined; bits?: number | undefined; random: Random },
): MemoryFault {
  const { region, random } = options;
  const bits = options.bits ?? 1;
  if (!Number.isInteger(bits) || bits < 1 || bits > 8 * PAGE) throw new RangeError(`flipBits: bits must be from 1 to ${8 * PAGE}, got ${bits}`);
  return whilePaused(vm, 'flipBits', () => {
    const range = regionRange(vm, region);
    const firstPage = Math.floor(range.start / PAGE);
    const pages = Math.ceil(range.end / PAGE) - firstPage;
    const page = options.page ?? Math.floor(random() * pages);
    if (!Number.isInteger(page) || page < 0 || page >= pages) {
      throw new RangeError(`flipBits: page must be from 0 to ${pages - 1} in the ${region} region, got ${page}`);
    }
    const pageGpa = (firstPage + page) * PAGE;
    // Only the bytes of this page that belong to the region.
    const from = Math.max(pageGpa, range.start);
    const to = Math.min(pageGpa + PAGE, range.end);
    if (bits > 8 * (to - from)) throw new RangeError(`flipBits: page ${page} of the ${region} region has fewer than ${bits} bits`);

    const chosen = new Set<number>();
    while (chosen.size < bits) chosen.add(Math.floor(random() * 8 * (to - from)));
    const flips = [...chosen]
      .sort((a, b) => a - b)
      .map((at) => {
        const gpa = from + Math.floor(at / 8);
        const bit = at % 8;
        const oldByte = vm.readMemory(gpa, 1)[0]!;
        const newByte = oldByte ^ (1 << bit);
        vm.writeMemory(gpa, Buffer.from([newByte]));
        return { gpa, bit, oldByte, newByte };
      });
    const where = flips.map((f) => `${hex(f.gpa)}.${f.bit} (${hex(f.oldByte)} -> ${hex(f.newByte)})`).join(', ');
    return {
      kind: 'memory',
      region,
      page,
      pageGpa,
      range,
      flips,
      description: `flipped ${bits} bit${bits > 1 ? 's' : ''} in ${region} page ${page} (${hex(pageGpa)}): ${where}`,
    };
  });
}

/** Flips `bits` distinct bits (default 1) of one general register of vCPU 0, given or random. */
export function corruptRegister(
  vm: Vm,
  options: { register?: GeneralRegister | undefined; bits?: number | undefined; random: Random },
): RegisterFault {
  const { random } = options;
  const bits = options.bits ?? 1;
  if (!Number.isInteger(bits) || bits < 1 || bits > 64) throw new RangeError(`corruptRegister: bits must be from 1 to 64, got ${bits}`);
  const register = options.register ?? generalRegisters[Math.floor(random() * generalRegisters.length)]!;
  if (!generalRegisters.includes(register)) {
    throw new RangeError(`corruptRegister: register must be one of ${generalRegisters.join(', ')}, got ${String(register)}`);
  }
  return whilePaused(vm, 'corruptRegister', () => {
    const chosen = new Set<number>();
    while (chosen.size < bits) chosen.add(Math.floor(random() * 64));
    const flipped = [...chosen].sort((a, b) => a - b);
    const oldValue = vm.getVcpuState(0).regs[register];
    const newValue = flipped.reduce((value, bit) => value ^ (1n << BigInt(bit)), oldValue);
    vm.setVcpuState(0, { regs: { [register]: newValue } });
    return {
      kind: 'register',
      vcpu: 0,
      register,
      bits: flipped,
      oldValue,
      newValue,
      description: `flipped bit${bits > 1 ? 's' : ''} ${flipped.join(', ')} of ${register}: ${hex(oldValue)} -> ${hex(newValue)}`,
    };
  });
}

// `jmp .`: a ring-3 loop that spins at full speed and never exits.
const JMP_SELF = Buffer.from([0xeb, 0xfe]);

/**
 * The guest stops making progress without exiting: vCPU 0 is sent to a
 * `jmp .` written into the scratch area below the image (mapped, user
 * accessible, unused by the guest). Its progress counter stays flat; only
 * a rollback (or stopping it) ends that.
 */
export function makeHang(vm: Vm): HangFault {
  return whilePaused(vm, 'makeHang', () => {
    const loopGpa = vm.layout().scratch.start;
    vm.writeMemory(loopGpa, JMP_SELF);
    const oldRip = vm.getVcpuState(0).regs.rip;
    vm.setVcpuState(0, { regs: { rip: BigInt(loopGpa) } });
    return { kind: 'hang', loopGpa, oldRip, description: `vCPU 0 sent from RIP ${hex(oldRip)} to a jmp-self loop at ${hex(loopGpa)}` };
  });
}

/**
 * The guest crashes at once: vCPU 0 jumps to address 0, the unmapped null
 * page. 'exception' (default): the page fault reaches the guest's ring-0
 * handler, which reports it and halts (exit reason 'exception').
 * 'triple-fault': the IDT is made empty first, so the fault cannot be
 * delivered and escalates to a triple fault (exit reason 'shutdown').
 * Both are in the vCPU state a rollback restores.
 */
export function makeCrash(vm: Vm, options: { how?: CrashHow | undefined } = {}): CrashFault {
  const how = options.how ?? 'exception';
  if (how !== 'exception' && how !== 'triple-fault') throw new RangeError(`makeCrash: how must be "exception" or "triple-fault", got ${String(how)}`);
  return whilePaused(vm, 'makeCrash', () => {
    const oldRip = vm.getVcpuState(0).regs.rip;
    vm.setVcpuState(0, { regs: { rip: 0n }, ...(how === 'triple-fault' && { sregs: { idt: { base: 0n, limit: 0 } } }) });
    const what = how === 'exception' ? 'a page fault' : 'a page fault with no IDT (triple fault)';
    return { kind: 'crash', how, oldRip, description: `vCPU 0 sent from RIP ${hex(oldRip)} to address 0: ${what}` };
  });
}

/**
 * Flips a bit in the stored copy of guest page `pfn` that checkpoint `seq`
 * holds; the checkpoint then fails verification and is never restored.
 * Throws when that checkpoint stores no copy of the page.
 */
export function corruptStoredPage(vm: Vm, options: { seq: number; pfn: number }): StoredPageFault {
  vm.corruptStoredPage(options.seq, options.pfn);
  return { ...options, kind: 'stored-page', description: `corrupted the stored copy of page ${options.pfn} in checkpoint ${options.seq}` };
}

/** Runs `change` with the guest paused: paused by us if it ran (and resumed after), or as the operator left it. */
function whilePaused<T>(vm: Vm, operation: string, change: () => T): T {
  const state = vm.state;
  if (state === 'paused') return change();
  if (state !== 'running') throw new Error(`${operation}: the VM is ${state}, it must be running or paused`);
  vm.pause();
  try {
    return change();
  } finally {
    // The run may have ended while we held it (an exit racing the pause).
    if (vm.state === 'paused') vm.resume();
  }
}

function regionRange(vm: Vm, region: MemoryRegion): GuestRange {
  const layout = vm.layout();
  switch (region) {
    case 'data':
      if (!layout.data) throw new Error('flipBits: the workload has not set up its data yet');
      return layout.data;
    case 'code':
      return layout.code;
    case 'stack':
      return stackInUse(layout.stack, vm.getVcpuState(0));
    default:
      throw new RangeError(`flipBits: region must be "data", "code" or "stack", got ${String(region)}`);
  }
}

function stackInUse(stack: GuestRange, vcpu: VcpuState): GuestRange {
  const rsp = Number(vcpu.regs.rsp);
  if (rsp < stack.start || rsp >= stack.end) return stack;
  return { start: rsp, end: stack.end };
}

function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}
