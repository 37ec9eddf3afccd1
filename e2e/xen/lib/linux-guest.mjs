// The Linux test guest (packages/guest/linux) as a PVH domU in the rig's
// dom0: created with `xl`, driven and read through xenstore and its console
// log, and the workload's expected checksum from the same program run in
// dom0. Every claim a test makes is checked by the guest's own output.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostProgramPath } from '../../../packages/guest/dist/index.js';
import { listDomains } from '../../../packages/native-xen/dist/index.js';
import { until } from './service.mjs';
import { XenstoreClient } from './xenstore-client.mjs';

const linuxBuild = fileURLToPath(new URL('../../../packages/guest/build/linux/', import.meta.url));
export const workload = { name: 'dp', seed: 1, size: 6000 };
const created = new Set();
let xenstore = null;
// What a kernel in trouble prints, and what it says of a process that
// faulted (a rollback that broke a process's registers or memory); the boot's
// own clocksource complaint under emulation ("Marking clocksource 'tsc' as
// unstable") is none of these.
export const kernelTrouble = /Oops|BUG:|WARNING:|Call Trace|Kernel panic|rcu.*stall|soft lockup|hung_task|segfault at|traps: /;

/** Destroys every domain startLinux created (call it from `after`). */
export function destroyLinuxGuests() {
  for (const domid of created) destroy(domid);
  xenstore?.close();
  xenstore = null;
}

/**
 * Destroys a domain startLinux created, if it is still there: a triple fault
 * ends one, and xl's own watcher may be destroying it already.
 */
function destroy(domid) {
  created.delete(domid);
  try {
    execFileSync('xl', ['destroy', String(domid)], { stdio: 'ignore' });
  } catch (error) {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let waited = 0; domainState(domid) !== 'gone'; waited += 200) {
      if (waited >= 10_000) throw error;
      Atomics.wait(pause, 0, 0, 200);
    }
  }
}

function sh(command, args) {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Boots a guest may need: see startLinux. */
const bootAttempts = 3;

/**
 * A running Linux PVH domU with its xenstore keys and console log; with
 * `heartbeat: false` it runs no agent of ours, only its commands' loop.
 *
 * Under the rig's emulation a guest now and then dies while it boots, before
 * anything of ours has touched it (seen: a triple fault; its FPU state lost,
 * then init killed by #UD). That is the emulator's trouble, not the
 * backend's: such a guest is destroyed and booted again, at most
 * `bootAttempts` times, and the log says so with the guest's console.
 */
export async function startLinux(name, { heartbeat = true } = {}) {
  for (let attempt = 1; ; attempt++) {
    const guest = await bootLinux(name, heartbeat);
    const state = domainState(guest.domid);
    if (state === 'running') return guest;
    const report = await guest.report();
    destroy(guest.domid);
    if (attempt === bootAttempts) throw new Error(`the Linux guest ${name} died while it booted, ${bootAttempts} times; the last time: ${report}`);
    console.log(`rig: the Linux guest ${name} died while it booted (${state}), before the test touched it; booting it again. ${report}`);
  }
}

async function bootLinux(name, heartbeat) {
  const cfg = path.join(os.tmpdir(), `${name}.cfg`);
  const cmdline = [
    'console=hvc0',
    // FIFO event queues live in Xen while their words are in guest RAM: a
    // rollback would tear them apart. The 2-level ABI keeps both in pages
    // the backend handles.
    'xen.fifo_events=0',
    'oops=panic',
    `uckpt_workload=${workload.name} uckpt_seed=${workload.seed} uckpt_size=${workload.size}`,
    ...(heartbeat ? ['uckpt_heartbeat_ms=200'] : []),
  ].join(' ');
  writeFileSync(cfg, [
    `name = "${name}"`,
    'type = "pvh"',
    `kernel = "${path.join(linuxBuild, 'vmlinuz')}"`,
    `ramdisk = "${path.join(linuxBuild, 'initramfs.cpio.gz')}"`,
    `cmdline = "${cmdline}"`,
    'memory = 128',
    'vcpus = 1',
    // TCG's emulated SVM lacks NRIPS: without it the guest loops on RDTSCP.
    'tsc_mode = "native"',
    'on_crash = "preserve"',
    '',
  ].join('\n'));
  sh('xl', ['create', '-q', cfg]);
  const domid = Number(sh('xl', ['domid', name]));
  created.add(domid);
  xenstore ??= await XenstoreClient.connect();
  const store = xenstore;
  const home = `/local/domain/${domid}/data`;
  const consoleLog = `/var/log/xen/console/guest-${name}.log`;
  const guest = {
    domid,
    /** One of the guest's keys under its home's data/, or null. */
    read: (key) => store.read(`${home}/${key}`),
    remove: (key) => store.rm(`${home}/${key}`),
    command: (cmd) => store.write(`${home}/uckpt-cmd`, cmd),
    console: () => (existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8') : ''),
    /** What a failed wait reports: the domain's state, the guest's keys, its console's end. */
    async report() {
      const keys = [];
      for (const key of ['uckpt-state', 'uckpt-cmd', 'uckpt-heartbeat', 'uckpt-result']) keys.push(`${key}=${JSON.stringify(await guest.read(key))}`);
      return `domain ${domainState(domid)}; ${keys.join(' ')}\n${guest.console().slice(-4000)}`;
    },
  };
  await until('the guest ready', async () => (await guest.read('uckpt-state')) === 'ready' || domainState(domid) !== 'running', 120_000, guest.report);
  return guest;
}

/** The domain's state as Xen has it ('running' also while blocked or paused), or 'gone'. */
function domainState(domid) {
  const state = listDomains().find((d) => d.domid === domid)?.state ?? 'gone';
  return state === 'paused' ? 'running' : state;
}

export function hostChecksum() {
  const out = sh(hostProgramPath, ['--workload', workload.name, '--seed', String(workload.seed), '--size', String(workload.size)]);
  return JSON.parse(out).checksum;
}

/** Runs the workload; returns the guest's result line (json) once written. */
export async function runWorkload(guest, during = async () => {}) {
  await guest.remove('uckpt-result');
  await guest.command('run');
  await until('the workload started', async () => (await guest.read('uckpt-state')) === 'busy:run', 30_000, guest.report);
  await during();
  const result = await until('the workload result', () => guest.read('uckpt-result'), 300_000, guest.report);
  return JSON.parse(result);
}

/**
 * Times `sleep 1` in the guest, by the guest's clock and by dom0's. Broken
 * timers show as a sleep that never ends or ends at once; under emulation
 * on a busy host the guest's processes may wait seconds for the CPU, so
 * the upper bound is loose.
 */
export async function timeSleep(guest) {
  await guest.remove('uckpt-sleep-cs');
  const start = Date.now();
  await guest.command('sleep');
  const cs = Number(await until('sleep 1 in the guest', () => guest.read('uckpt-sleep-cs'), 60_000, guest.report));
  return { guestMs: cs * 10, dom0Ms: Date.now() - start };
}

