// Injected faults on a real KVM guest, and recovery from each by rollback:
// a run that crashed, hung or caught its own corruption is revived from a
// checkpoint taken before the fault and still ends with the checksum of an
// unprotected run on the host (the oracle).
import { afterEach, expect, it } from 'vitest';
import { findWorkload, formatChecksum, guestImagePath, runOnHost } from '@uckpt/guest';
import type { CheckpointMode } from '@uckpt/native-core';
import { Vm, corruptRegister, flipBits, generalRegisters, makeCrash, makeHang, type ExitInfo } from '../lib/index.js';
import { describeKvm, seededRandom, sleep, until } from './kvm.js';

const vms: Vm[] = [];
afterEach(() => {
  for (const vm of vms.splice(0)) vm.destroy();
});

/** dp runs ~1800 sequences/s here: a few hundred ms of work, and a hot working set of 12 pages. */
function startDp(
  seed: number,
  size: number,
  { retention = 8, vcpus = 1, mode = 'stop-and-copy' }: { retention?: number; vcpus?: number; mode?: CheckpointMode } = {},
): Vm {
  const vm = Vm.create({ memoryMiB: 64, vcpus });
  vms.push(vm);
  vm.loadImage(guestImagePath, { workload: findWorkload('dp').index, seed, size });
  vm.start();
  vm.enableCheckpointing({ intervalMs: 20, retention, mode });
  return vm;
}

async function untilProgress(vm: Vm, fraction: number): Promise<void> {
  await until(() => {
    const { progress, progressTotal } = vm.mailbox();
    return progressTotal > 0 && progress >= fraction * progressTotal;
  }, `${fraction * 100}% progress`);
}

/** Whether the progress counter stays where it is for `ms` while the VM keeps running. */
async function progressFlat(vm: Vm, ms: number): Promise<boolean> {
  const before = vm.mailbox().progress;
  await sleep(ms);
  return vm.state === 'running' && vm.mailbox().progress === before;
}

/** How a run goes on after a fault: it ends (somehow), or it stops progressing (a hang). */
async function outcome(vm: Vm, exit: Promise<ExitInfo>): Promise<ExitInfo | 'hang'> {
  for (;;) {
    const flat = progressFlat(vm, 250);
    const ended = await Promise.race([exit, flat.then(() => null)]);
    if (ended) return ended;
    if (await flat) return 'hang';
  }
}

describeKvm('fault injection and recovery by rollback', () => {
  it.each(['stop-and-copy', 'cow'] as const)('%s: a crash after checkpoints: a rollback revives the VM, which can crash again, and the run ends with the host checksum', async (mode) => {
    const host = await runOnHost({ workload: 'dp', seed: 5, size: 1200 });
    const vm = startDp(5, 1200, { mode });
    await untilProgress(vm, 0.25);
    await until(() => vm.listCheckpoints().length >= 2, 'two checkpoints');
    // The target is taken before the fault: a timed checkpoint may catch the
    // guest between the fault and its exit (ring 0 runs emulated here, slowly),
    // and rolling back to that one crashes again.
    const beforeCrash = await vm.checkpointNow();

    const firstRun = vm.waitForExit();
    const crash = makeCrash(vm);
    expect(crash).toMatchObject({ kind: 'crash', how: 'exception' });
    const crashed = await firstRun;
    expect(crashed).toMatchObject({ reason: 'exception', run: 0 });
    expect(crashed.message).toMatch(/#PF .* at RIP 0x0/);
    expect(vm.state).toBe('crashed');

    // The epoch loop skips its epochs while the guest is down; its checkpoints stay.
    const retained = vm.listCheckpoints().map((c) => c.seq);
    const skipped = vm.stats().skippedEpochs;
    await until(() => vm.stats().skippedEpochs >= skipped + 2, 'skipped epochs');
    expect(vm.listCheckpoints().map((c) => c.seq)).toEqual(retained);

    const revive = await vm.rollback(beforeCrash);
    expect(revive.revived).toEqual(crashed);
    expect(vm.state).toBe('running');
    expect(vm.exit).toBeNull();
    expect(vm.lastCrash).toEqual(crashed);
    await expect(firstRun).resolves.toEqual(crashed); // taken before the revive: still the crash

    // The revived run is checkpointed again, and can end badly again: a triple fault this time.
    const epochs = vm.stats().epochs;
    await until(() => vm.stats().epochs >= epochs + 2, 'epochs after the revive');
    const beforeSecond = await vm.checkpointNow();
    const secondRun = vm.waitForExit();
    makeCrash(vm, { how: 'triple-fault' });
    expect(await secondRun).toMatchObject({ reason: 'shutdown', run: 1 });
    expect((await vm.rollback(beforeSecond)).revived).toMatchObject({ reason: 'shutdown', run: 1 });

    const exit = await vm.waitForExit();
    expect(exit).toMatchObject({ reason: 'done', run: 2 });
    expect(formatChecksum(exit.result!)).toBe(host.checksum);
    expect(vm.lastCrash).toMatchObject({ reason: 'shutdown' });
  });

  it('every vCPU of a multi-vCPU VM runs again after a revive', async () => {
    const host = await runOnHost({ workload: 'dp', seed: 4, size: 800 });
    const vm = startDp(4, 800, { vcpus: 3 });
    await untilProgress(vm, 0.25);
    const before = await vm.checkpointNow();
    const crashed = vm.waitForExit();
    makeCrash(vm);
    await crashed;
    await vm.rollback(before);
    // Pausing waits for every vCPU thread to park: the new ones answer.
    vm.pause();
    expect(vm.getVcpuState(2).regs.rip).toBeGreaterThan(0n);
    vm.resume();
    const exit = await vm.waitForExit();
    expect(formatChecksum(exit.result!)).toBe(host.checksum);
  });

  it('a VM that finished or was stopped is not revived', async () => {
    const finished = startDp(1, 40);
    expect(await finished.waitForExit()).toMatchObject({ reason: 'done' });
    expect(() => finished.rollback('latest')).toThrow(/rollback: the VM is finished, it must be running or paused \(or crashed or failed, to revive it\)/);

    const stopped = startDp(1, 4000);
    await until(() => stopped.listCheckpoints().length > 0, 'a checkpoint');
    stopped.stop();
    expect(() => stopped.rollback('latest')).toThrow(/rollback: the VM is stopped/);
  });

  it('a hang: progress stops, checkpoints taken during it hang too, a rollback to one before it cures it', async () => {
    const host = await runOnHost({ workload: 'dp', seed: 6, size: 1200 });
    const vm = startDp(6, 1200, { retention: 64 }); // the checkpoint before the hang must outlive it
    await untilProgress(vm, 0.25);
    const beforeHang = await vm.checkpointNow();

    const hang = makeHang(vm);
    expect(hang.kind).toBe('hang');
    expect(hang.loopGpa).toBe(vm.layout().scratch.start);
    expect(await progressFlat(vm, 250)).toBe(true);

    // The newest checkpoint was taken during the hang: it hangs as well.
    await until(() => vm.listCheckpoints().at(-1)!.seq > beforeHang, 'a checkpoint during the hang');
    await vm.rollback('latest');
    expect(await progressFlat(vm, 250)).toBe(true);

    const cure = await vm.rollback(beforeHang);
    expect(cure.revived).toBeNull(); // it never stopped running
    const exit = await vm.waitForExit();
    expect(exit.reason).toBe('done');
    expect(formatChecksum(exit.result!)).toBe(host.checksum);
  });

  it('a bit flip in the workload data is caught by its self-check; a rollback revives the run to the host checksum', async () => {
    const host = await runOnHost({ workload: 'dp', seed: 7, size: 2000 });
    const vm = startDp(7, 2000);
    await untilProgress(vm, 0.2);
    expect(vm.mailbox().selfChecks).toBeGreaterThan(0);
    const beforeFlip = await vm.checkpointNow();

    // Pages 0-9 of dp's data hold its query profile, read-only once built and checked every 32 sequences.
    const exited = vm.waitForExit();
    const flip = flipBits(vm, { region: 'data', page: 3, random: seededRandom(11) });
    const [{ gpa, oldByte, newByte, bit }] = flip.flips as [(typeof flip.flips)[0]];
    expect(newByte).toBe(oldByte ^ (1 << bit));
    expect(gpa - flip.pageGpa).toBeLessThan(4096);
    expect(flip.pageGpa).toBe(vm.layout().data!.start + 3 * 4096);

    const caught = await exited;
    expect(caught.reason).toBe('guest-error');
    expect(caught.message).toMatch(/dp: /);
    expect(vm.state).toBe('crashed');

    const revive = await vm.rollback(beforeFlip);
    expect(revive.revived).toEqual(caught);
    expect(vm.readMemory(gpa, 1)[0]).toBe(oldByte);
    const exit = await vm.waitForExit();
    expect(exit.reason).toBe('done');
    expect(formatChecksum(exit.result!)).toBe(host.checksum);
  });

  it('flips land inside their region, are tracked like guest writes, and a rollback undoes them', async () => {
    const host = await runOnHost({ workload: 'dp', seed: 8, size: 1200 });
    const vm = startDp(8, 1200);
    await untilProgress(vm, 0.25);
    const before = await vm.checkpointNow();
    vm.pause();
    const random = seededRandom(3);
    const layout = vm.layout();
    const rsp = Number(vm.getVcpuState(0).regs.rsp);
    const flips = [
      flipBits(vm, { region: 'code', bits: 3, random }),
      flipBits(vm, { region: 'stack', random }),
      flipBits(vm, { region: 'data', bits: 2, random }),
    ];
    expect(vm.state).toBe('paused'); // left as the operator had it
    for (const fault of flips) {
      const range = { code: layout.code, stack: { start: rsp, end: layout.stack.end }, data: layout.data! }[fault.region];
      expect(fault.range).toEqual(range);
      for (const { gpa, newByte } of fault.flips) {
        expect(gpa).toBeGreaterThanOrEqual(range.start);
        expect(gpa).toBeLessThan(range.end);
        expect(vm.readMemory(gpa, 1)[0]).toBe(newByte);
      }
    }
    expect(flips.map((f) => f.flips.length)).toEqual([3, 1, 2]);
    expect(() => flipBits(vm, { region: 'code', page: 1e6, random })).toThrow(/flipBits: page must be from 0 to \d+ in the code region/);

    vm.resume();
    await vm.rollback(before);
    for (const { gpa, oldByte } of flips.flatMap((f) => f.flips)) expect(vm.readMemory(gpa, 1)[0]).toBe(oldByte);
    const exit = await vm.waitForExit();
    expect(formatChecksum(exit.result!)).toBe(host.checksum);
  });

  it.each([
    { register: 'rip' as const, seed: 21 },
    { register: undefined, seed: 22 },
  ])('a corrupted register ($register, seed $seed) crashes, hangs, changes the result or does nothing; a rollback recovers', async ({ register, seed }) => {
    const host = await runOnHost({ workload: 'dp', seed: 9, size: 1500 });
    const vm = startDp(9, 1500);
    await untilProgress(vm, 0.25);
    const before = await vm.checkpointNow();
    const exited = vm.waitForExit();

    vm.pause();
    const fault = corruptRegister(vm, { register, bits: 2, random: seededRandom(seed) });
    expect(generalRegisters).toContain(fault.register);
    expect(fault.bits).toHaveLength(2);
    expect(fault.newValue).toBe(fault.oldValue ^ (1n << BigInt(fault.bits[0]!)) ^ (1n << BigInt(fault.bits[1]!)));
    expect(vm.getVcpuState(0).regs[fault.register]).toBe(fault.newValue);
    vm.resume();

    const result = await outcome(vm, exited);
    // Finished: with the right checksum (not activated: the value was dead
    // or overwritten) or a wrong one (only the oracle sees it); a finished
    // run is not revived.
    if (result !== 'hang' && result.reason === 'done') return;
    // A crash or a hang: cured from the checkpoint before the fault.
    const revive = await vm.rollback(before);
    expect(revive.revived).toEqual(result === 'hang' ? null : result);
    const exit = await vm.waitForExit();
    expect(formatChecksum(exit.result!)).toBe(host.checksum);
  });
});
