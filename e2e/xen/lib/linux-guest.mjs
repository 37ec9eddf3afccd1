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
import { sleep, until } from './service.mjs';

const linuxBuild = fileURLToPath(new URL('../../../packages/guest/build/linux/', import.meta.url));
export const workload = { name: 'dp', seed: 1, size: 6000 };
const created = new Set();
// What a kernel in trouble prints; the boot's own clocksource complaint
// under emulation ("Marking clocksource 'tsc' as unstable") is none of these.
export const kernelTrouble = /Oops|BUG:|WARNING:|Call Trace|Kernel panic|rcu.*stall|soft lockup|hung_task/;

/** Destroys every domain startLinux created (call it from `after`). */
export function destroyLinuxGuests() {
  for (const domid of created) execFileSync('xl', ['destroy', String(domid)], { stdio: 'ignore' });
  created.clear();
}

function sh(command, args) {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A running Linux PVH domU with its xenstore keys and console log. */
export async function startLinux(name) {
  const cfg = path.join(os.tmpdir(), `${name}.cfg`);
  const cmdline = [
    'console=hvc0',
    // FIFO event queues live in Xen while their words are in guest RAM: a
    // rollback would tear them apart. The 2-level ABI keeps both in pages
    // the backend handles.
    'xen.fifo_events=0',
    'oops=panic',
    `uckpt_workload=${workload.name} uckpt_seed=${workload.seed} uckpt_size=${workload.size}`,
    'uckpt_heartbeat_ms=200',
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
  const home = `/local/domain/${domid}/data`;
  const consoleLog = `/var/log/xen/console/guest-${name}.log`;
  const guest = {
    domid,
    read(key) {
      try {
        return sh('xenstore-read', [`${home}/${key}`]);
      } catch {
        return null;
      }
    },
    command(cmd) {
      sh('xenstore-write', [`${home}/uckpt-cmd`, cmd]);
    },
    console: () => (existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8') : ''),
  };
  await until('the guest ready', () => guest.read('uckpt-state') === 'ready', 120_000, () => guest.console().slice(-4000));
  return guest;
}

export function hostChecksum() {
  const out = sh(hostProgramPath, ['--workload', workload.name, '--seed', String(workload.seed), '--size', String(workload.size)]);
  return JSON.parse(out).checksum;
}

/** Runs the workload; returns the guest's result line (json) once written. */
export async function runWorkload(guest, during = async () => {}) {
  sh('xenstore-rm', [`/local/domain/${guest.domid}/data/uckpt-result`]);
  guest.command('run');
  await until('the workload started', () => guest.read('uckpt-state') === 'busy:run', 30_000);
  await during();
  const result = await until('the workload result', () => guest.read('uckpt-result'), 300_000, () => guest.console().slice(-4000));
  return JSON.parse(result);
}

/**
 * Times `sleep 1` in the guest, by the guest's clock and by dom0's. Broken
 * timers show as a sleep that never ends or ends at once; under emulation
 * on a busy host the guest's processes may wait seconds for the CPU, so
 * the upper bound is loose.
 */
export async function timeSleep(guest) {
  sh('xenstore-rm', [`/local/domain/${guest.domid}/data/uckpt-sleep-cs`]);
  const start = Date.now();
  guest.command('sleep');
  const cs = Number(await until('sleep 1 in the guest', () => guest.read('uckpt-sleep-cs'), 60_000, () => guest.console().slice(-4000)));
  return { guestMs: cs * 10, dom0Ms: Date.now() - start };
}

