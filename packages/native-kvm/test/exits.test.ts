// Every way a run can end becomes a VM state with a reason, never a crash
// of the process. Each case plants a few instructions in guest RAM and
// points the boot vCPU at them before it starts.
import { expect, it } from 'vitest';
import { findWorkload, guestImagePath } from '@uckpt/guest';
import { Vm, type ExitInfo, type VmState } from '../lib/index.js';
import { describeKvm } from './kvm.js';

const CODE_GPA = 0x400000;
const JMP_SELF = [0xeb, 0xfe];

function movRaxImm64(value: bigint): number[] {
  const bytes = [0x48, 0xb8];
  for (let i = 0n; i < 8n; i++) bytes.push(Number((value >> (8n * i)) & 0xffn));
  return bytes;
}

async function runCode(
  code: number[],
  { memoryMiB = 32, breakIdt = false }: { memoryMiB?: number; breakIdt?: boolean } = {},
): Promise<{ state: VmState; exit: ExitInfo }> {
  const vm = Vm.create({ memoryMiB });
  try {
    vm.loadImage(guestImagePath, { workload: findWorkload('dp').index, size: 1 });
    vm.writeMemory(CODE_GPA, Buffer.from([...code, ...JMP_SELF]));
    vm.setVcpuState(0, { regs: { rip: BigInt(CODE_GPA) }, ...(breakIdt && { sregs: { idt: { base: 0n, limit: 0 } } }) });
    vm.start();
    const exit = await vm.waitForExit();
    return { state: vm.state, exit };
  } finally {
    vm.destroy();
  }
}

describeKvm('guest exits become VM states with reasons', () => {
  it('a clean run finishes with its checksum', async () => {
    const vm = Vm.create({ memoryMiB: 64 });
    vm.loadImage(guestImagePath, { workload: findWorkload('dp').index, size: 1 });
    vm.start();
    const exit = await vm.waitForExit();
    expect(vm.state).toBe('finished');
    expect(exit.reason).toBe('done');
    expect(exit.result).toBeTypeOf('bigint');
    vm.destroy();
  });

  it('an invalid opcode is a guest exception with vector and RIP', async () => {
    const { state, exit } = await runCode([0x0f, 0x0b]); // ud2
    expect(state).toBe('crashed');
    expect(exit.reason).toBe('exception');
    expect(exit.message).toMatch(/#UD \(vector 6.*at RIP 0x400000/);
  });

  it('a null-pointer write is a page fault with CR2', async () => {
    // mov [rax], al: a user-mode write to a page that is not present (error code 0x6)
    const { exit } = await runCode([...movRaxImm64(8n), 0x88, 0x00]);
    expect(exit.reason).toBe('exception');
    expect(exit.message).toMatch(/#PF \(vector 14, error code 0x6\).*CR2 0x8$/);
  });

  it('hlt in ring 3 is a general protection fault', async () => {
    const { exit } = await runCode([0xf4]);
    expect(exit.reason).toBe('exception');
    expect(exit.message).toMatch(/#GP \(vector 13/);
  });

  it('an exception that cannot be delivered is a triple fault', async () => {
    const { state, exit } = await runCode([0x0f, 0x0b], { breakIdt: true });
    expect(state).toBe('crashed');
    expect(exit.reason).toBe('shutdown');
  });

  it('reading a port the VMM does not emulate is unexpected I/O', async () => {
    const { state, exit } = await runCode([0xe4, 0xe9]); // in al, 0xe9
    expect(state).toBe('crashed');
    expect(exit.reason).toBe('unexpected-io');
    expect(exit.message).toMatch(/read I\/O port 0xe9/);
  });

  it('touching guest-physical memory with no RAM behind it is unexpected MMIO', async () => {
    // 17 MiB of RAM; the page tables map up to 18 MiB.
    const { state, exit } = await runCode([...movRaxImm64(0x1180000n), 0xc6, 0x00, 0x01], { memoryMiB: 17 });
    expect(state).toBe('crashed');
    expect(exit.reason).toBe('unexpected-mmio');
    expect(exit.message).toMatch(/wrote 1 bytes at guest-physical 0x1180000/);
  });

  it('a workload too big for guest RAM is refused by the guest with a reason', async () => {
    const vm = Vm.create({ memoryMiB: 32 });
    vm.loadImage(guestImagePath, { workload: findWorkload('hashtable').index, size: 512 });
    vm.start();
    const exit = await vm.waitForExit();
    expect(vm.state).toBe('crashed');
    expect(exit.reason).toBe('bad-params');
    expect(exit.message).toMatch(/not enough guest memory/);
    vm.destroy();
  });

  it('stopping a running VM ends it as stopped', async () => {
    const vm = Vm.create({ memoryMiB: 512 });
    vm.loadImage(guestImagePath, { workload: findWorkload('hashtable').index, repeat: 0 });
    vm.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    vm.stop();
    const exit = await vm.waitForExit();
    expect(vm.state).toBe('stopped');
    expect(exit.reason).toBe('stopped');
    vm.destroy();
  });
});
