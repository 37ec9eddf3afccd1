// Bad input to every Vm method is a clear error naming the operation and
// the problem; nothing crashes, and the process stays usable.
import { readFileSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { findWorkload, guestImagePath, runOnHost } from '@uckpt/guest';
import { Vm, runInVm } from '../lib/index.js';
import { describeKvm } from './kvm.js';

const dp = () => findWorkload('dp').index;
const made: Vm[] = [];
function vm(memoryMiB = 32, vcpus = 1): Vm {
  const v = Vm.create({ memoryMiB, vcpus });
  made.push(v);
  return v;
}

afterEach(() => {
  for (const v of made.splice(0)) v.destroy();
});

describeKvm('bad input is refused clearly', () => {
  it('create: memory and vCPU counts out of range or of the wrong type', () => {
    expect(() => Vm.create({ memoryMiB: 15 })).toThrow('create: memoryMiB must be from 16 to 16384, got 15');
    expect(() => Vm.create({ memoryMiB: 16385 })).toThrow(/memoryMiB must be from 16 to 16384/);
    expect(() => Vm.create({ memoryMiB: -1 })).toThrow(/memoryMiB must be a non-negative integer/);
    expect(() => Vm.create({ memoryMiB: 1.5 })).toThrow(/memoryMiB must be a non-negative integer/);
    expect(() => Vm.create({ memoryMiB: Number.NaN })).toThrow(/memoryMiB must be a non-negative integer/);
    expect(() => Vm.create({ memoryMiB: '64' as unknown as number })).toThrow(/memoryMiB must be a number/);
    expect(() => Vm.create({ memoryMiB: 64, vcpus: 0 })).toThrow(/vcpus must be from 1 to \d+, got 0/);
    expect(() => Vm.create({ memoryMiB: 64, vcpus: 65 })).toThrow(/vcpus must be from 1 to \d+, got 65/);
    expect(() => Vm.create({ memoryMiB: 64, dirtyTracking: 'log' as 'ring' })).toThrow(
      'create: dirtyTracking must be "bitmap" or "ring"',
    );
  });

  it('loadImage: not an image, a foreign ELF, a truncated image, bad params', () => {
    const image = readFileSync(guestImagePath);
    expect(() => vm().loadImage(Buffer.from('hello'), { workload: 0 })).toThrow(/bad guest image: shorter than an ELF header/);
    expect(() => vm().loadImage(Buffer.alloc(4096), { workload: 0 })).toThrow(/bad guest image: not an ELF file/);
    expect(() => vm().loadImage(readFileSync('/bin/ls'), { workload: 0 })).toThrow(/bad guest image: not a static executable/);
    expect(() => vm().loadImage(readFileSync(process.execPath), { workload: 0 })).toThrow(/bad guest image: no uckpt entry note/);
    expect(() => vm().loadImage(image.subarray(0, 200), { workload: 0 })).toThrow(/bad guest image: .*out of the file/);
    expect(() => vm().loadImage('/nonexistent/image.elf', { workload: 0 })).toThrow(/ENOENT/);
    expect(() => vm().loadImage(image, { workload: 0, seed: -3 })).toThrow(/loadImage: seed must be a non-negative integer/);
    expect(() => vm().loadImage(image, null as unknown as { workload: number })).toThrow(/params must be an object/);
    const v = vm();
    v.loadImage(image, { workload: dp() });
    expect(() => v.loadImage(image, { workload: dp() })).toThrow('loadImage: the VM is loaded, it must be created');
  });

  it('lifecycle calls in the wrong state say which state is needed', () => {
    const v = vm();
    expect(() => v.start()).toThrow('start: the VM is created, it must be loaded');
    expect(() => v.pause()).toThrow('pause: the VM is created, it must be running');
    expect(() => v.resume()).toThrow('resume: the VM is created, it must be paused');
    expect(() => v.getVcpuState(0)).toThrow(/getVcpuState: the VM is created, it must be loaded or paused/);
    v.loadImage(guestImagePath, { workload: findWorkload('dirtier').index, size: 8, repeat: 0 }); // runs until stopped
    v.start();
    expect(() => v.start()).toThrow('start: the VM is running, it must be loaded');
    expect(() => v.resume()).toThrow('resume: the VM is running, it must be paused');
    expect(() => v.setVcpuState(0, {})).toThrow(/setVcpuState: the VM is running, it must be loaded or paused/);
    v.pause();
    expect(() => v.pause()).toThrow('pause: the VM is paused, it must be running');
    v.stop();
    v.destroy();
    expect(v.state).toBe('destroyed');
    for (const call of [() => v.start(), () => v.readMemory(0, 1), () => v.mailbox(), () => v.info()]) {
      expect(call).toThrow(/the VM is destroyed/);
    }
    expect(() => v.destroy()).not.toThrow();
  });

  it('memory access outside guest RAM or of the wrong type', () => {
    const v = vm(16);
    expect(() => v.readMemory(16 << 20, 1)).toThrow(/readMemory: guest-physical range 0x1000000\+1 is outside guest RAM/);
    expect(() => v.readMemory((16 << 20) - 4, 8)).toThrow(/outside guest RAM/);
    expect(() => v.readMemory(-1, 1)).toThrow(/gpa must be a non-negative integer/);
    expect(() => v.readMemory(0, 512 << 20)).toThrow(/length must be at most 268435456/);
    expect(() => v.writeMemory(2n ** 63n, Buffer.alloc(1))).toThrow(/outside guest RAM/);
    expect(() => v.writeMemory(0, 'text' as unknown as Buffer)).toThrow(/data must be a Buffer/);
    v.writeMemory(0x200000, Buffer.from('round trip'));
    expect(v.readMemory(0x200000, 10).toString()).toBe('round trip');
  });

  it('vCPU state: no such vCPU, malformed registers', () => {
    const v = vm(32, 2);
    v.loadImage(guestImagePath, { workload: dp() });
    expect(() => v.getVcpuState(2)).toThrow('getVcpuState: no vCPU 2');
    expect(() => v.setVcpuState(0, { regs: { rip: -1n } })).toThrow(/regs.rip does not fit in 64 bits/);
    expect(() => v.setVcpuState(0, { regs: { rax: 'x' as unknown as bigint } })).toThrow(/regs.rax must be a bigint or a number/);
    expect(() => v.setVcpuState(0, { sregs: { cs: { dpl: 4 } } })).toThrow(/sregs.cs.dpl is out of range/);
    expect(() => v.setVcpuState(0, { fpu: Buffer.alloc(3) })).toThrow(/fpu must be a Buffer of \d+ bytes/);
    expect(() => v.setVcpuState(0, { xsave: Buffer.alloc(7) })).toThrow(/xsave must be \d+ bytes, got 7/);
    // Nothing above changed the state: the VM still boots and finishes.
    const before = v.getVcpuState(0);
    expect(before.regs.rip).not.toBe(0n);
    expect(before.sregs.cs.dpl).toBe(3);
    expect(v.getVcpuState(1).sregs.cs.dpl).toBe(0);
  });

  it('checkpointing: bad config, bad rollback targets, calls before enabling', async () => {
    const v = vm(64);
    v.loadImage(guestImagePath, { workload: findWorkload('dirtier').index, size: 8, repeat: 0 });
    expect(() => v.listCheckpoints()).toThrow('listCheckpoints: checkpointing was never enabled');
    expect(() => v.checkpointNow()).toThrow('checkpointNow: checkpointing was never enabled');
    expect(() => v.enableCheckpointing({ intervalMs: 0 })).toThrow('intervalMs must be from 1 to 10000, got 0');
    expect(() => v.enableCheckpointing({ intervalMs: 20000 })).toThrow('intervalMs must be from 1 to 10000, got 20000');
    expect(() => v.enableCheckpointing({ retention: 0 })).toThrow('retention must be from 1 to 1024, got 0');
    expect(() => v.enableCheckpointing({ mode: 'fast' as 'cow' })).toThrow('mode must be "stop-and-copy" or "cow", got "fast"');
    expect(() => v.enableCheckpointing({ storeMiB: 0 })).toThrow('the store bound must be at least 1 MiB');
    expect(() => v.enableCheckpointing({ copyThreads: 99 })).toThrow('copyThreads must be from 1 to 16, got 99');
    expect(() => v.enableCheckpointing({ intervalMs: 1.5 })).toThrow('intervalMs must be a non-negative integer');
    v.start();
    v.enableCheckpointing({ intervalMs: 10 });
    expect(() => v.enableCheckpointing({ storeMiB: 10 })).toThrow(/storeMiB, copyThreads, faultNs and testNoWriteProtect are fixed/);
    expect(() => v.rollback('oldest' as 'latest')).toThrow('rollback: the target must be a checkpoint seq or "latest"');
    expect(() => v.rollback(-1)).toThrow('rollback: seq must be a non-negative integer');
    await expect(v.rollback(999999)).rejects.toThrow(/rollback: checkpoint 999999 is not retained \(retained: \d+\.\.\d+\)/);
    expect(() => v.testCorruptStoredPage(1, -5)).toThrow('pfn must be a non-negative integer');
    // None of it disturbed the checkpoints being taken.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(v.stats()).toMatchObject({ enabled: true, lastError: null });
    expect(v.listCheckpoints().length).toBeGreaterThan(0);
    v.stop();
    expect(() => v.rollback('latest')).toThrow('rollback: the VM is stopped, it must be running or paused (or crashed or failed, to revive it)');
  });

  it('after all that, the process still runs workloads correctly', async () => {
    const [host, guest] = await Promise.all([
      runOnHost({ workload: 'dp', seed: 9, size: 50 }),
      runInVm({ workload: 'dp', seed: 9, size: 50, memoryMiB: 64 }),
    ]);
    expect(guest.checksum).toBe(host.checksum);
  });
});
