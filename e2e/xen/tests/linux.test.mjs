// A real Linux PVH domU under the Xen backend, run inside the rig's dom0
// (node --test): Debian's kernel with the busybox initramfs of
// packages/guest/linux, driven through xenstore (see its init.sh). Every
// claim is checked by the guest's own output: its console, its xenstore
// keys and the workload's checksum against the same program run in dom0.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { XenDomain } from '../../../packages/native-xen/dist/index.js';
import { hostProgramPath } from '../../../packages/guest/dist/index.js';
import { percentiles, seededRandom } from '../../../packages/native-core/dist/index.js';

const linuxBuild = fileURLToPath(new URL('../../../packages/guest/build/linux/', import.meta.url));
const workload = { name: 'dp', seed: 1, size: 6000 };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const created = new Set();
// What a kernel in trouble prints; the boot's own clocksource complaint
// under emulation ("Marking clocksource 'tsc' as unstable") is none of these.
const kernelTrouble = /Oops|BUG:|WARNING:|Call Trace|Kernel panic|rcu.*stall|soft lockup|hung_task/;

after(() => {
  for (const domid of created) execFileSync('xl', ['destroy', String(domid)], { stdio: 'ignore' });
});

function sh(command, args) {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

async function until(what, predicate, timeoutMs, context = () => '') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
    await sleep(100);
  }
}

/** A running Linux PVH domU with its xenstore keys and console log. */
async function startLinux(name) {
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

function hostChecksum() {
  const out = sh(hostProgramPath, ['--workload', workload.name, '--seed', String(workload.seed), '--size', String(workload.size)]);
  return JSON.parse(out).checksum;
}

/** Runs the workload; returns the guest's result line (json) once written. */
async function runWorkload(guest, during = async () => {}) {
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
async function timeSleep(guest) {
  sh('xenstore-rm', [`/local/domain/${guest.domid}/data/uckpt-sleep-cs`]);
  const start = Date.now();
  guest.command('sleep');
  const cs = Number(await until('sleep 1 in the guest', () => guest.read('uckpt-sleep-cs'), 60_000, () => guest.console().slice(-4000)));
  return { guestMs: cs * 10, dom0Ms: Date.now() - start };
}

test('a Linux PVH domU survives 20 rollbacks at random moments: same checksum, no kernel complaint, timers and xenstore work', async () => {
  const expected = hostChecksum();
  const guest = await startLinux('uckpt-linux');
  const domain = XenDomain.attach(guest.domid);
  const epochs = [];
  domain.on('epoch', (epoch) => epochs.push(epoch));
  domain.enableCheckpointing({ intervalMs: 50, retention: 8 });
  try {
    await until('idle epochs', () => epochs.length >= 40, 120_000);
    const idle = epochs.slice(-30);
    const consoleBefore = guest.console().length;
    const random = seededRandom(25);
    const rollbacks = [];
    let busyFrom = 0;
    const result = await runWorkload(guest, async () => {
      busyFrom = epochs.length;
      const startSeq = domain.listCheckpoints().at(-1).seq;
      while (rollbacks.length < 20) {
        assert.equal(guest.read('uckpt-result'), null, `the workload finished after only ${rollbacks.length} rollbacks`);
        await sleep(200 + random() * 500);
        // Only checkpoints taken while the workload ran: one from before
        // would find the command already taken and never run it.
        const targets = domain.listCheckpoints().filter((c) => c.seq > startSeq);
        if (targets.length === 0) continue;
        const target = targets[Math.floor(random() * targets.length)].seq;
        try {
          rollbacks.push(await domain.rollback(target));
        } catch (error) {
          if (!/is not retained/.test(error.message)) throw error;
        }
      }
    });
    const busy = epochs.slice(busyFrom);
    assert.equal(result.checksum, expected, 'the workload ends as it does unprotected in dom0');
    assert.equal(domain.info().state, 'running');

    // After the rollbacks: timers, xenstore and the console still work.
    const slept = await timeSleep(guest);
    assert.ok(slept.guestMs >= 950 && slept.guestMs <= 10_000, `sleep 1 took ${slept.guestMs} ms by the guest's clock`);
    assert.ok(slept.dom0Ms < 15_000, `sleep 1 took ${slept.dom0Ms} ms seen from dom0`);
    const beats = Number(guest.read('uckpt-heartbeat'));
    await sleep(2000);
    assert.ok(Number(guest.read('uckpt-heartbeat')) > beats, 'the heartbeat agent still ticks its xenstore key');
    const since = guest.console().slice(consoleBefore);
    assert.match(since, new RegExp(`result .*"checksum":"${expected}"`), 'the console shows the result');
    assert.match(since, /sleep 1 took \d+ cs/, 'console output goes on after the rollbacks');
    assert.doesNotMatch(since, kernelTrouble, 'the kernel logged no Oops, BUG, warning or stall');

    const pause = percentiles(busy.map((e) => e.pauseNs / 1e6));
    console.log(
      'xen-measure',
      JSON.stringify({
        run: 'linux-pvh',
        rollbacks: rollbacks.length,
        dirtyPagesIdle: percentiles(idle.map((e) => e.dirtyPages)),
        dirtyPagesBusy: percentiles(busy.map((e) => e.dirtyPages)),
        pauseMs: { p50: pause.p50, p99: pause.p99 },
        rollbackMs: percentiles(rollbacks.map((r) => r.durationNs / 1e6)),
        pagesRestored: percentiles(rollbacks.map((r) => r.pagesRestored)),
        sleep: slept,
      }),
    );
  } finally {
    domain.detach();
  }

  // Unprotected again: the domain runs on untouched and works as before.
  assert.equal(domain.state, 'detached');
  const again = await runWorkload(guest);
  assert.equal(again.checksum, expected);
  assert.doesNotMatch(guest.console(), kernelTrouble);
});

test('a kernel panic (sysrq c) crashes the domain, which on_crash="preserve" keeps; a rollback revives it in place and it works on', async () => {
  const expected = hostChecksum();
  const guest = await startLinux('uckpt-linux-panic');
  const domain = XenDomain.attach(guest.domid);
  const states = [];
  domain.on('state', (state) => states.push(state));
  let epochs = 0;
  domain.on('epoch', () => epochs++);
  domain.enableCheckpointing({ intervalMs: 50, retention: 16 });
  try {
    await until('epochs', () => epochs >= 20, 120_000);
    // The guest idles in its command loop: a checkpoint from now has not
    // read the command yet, and after the rollback finds it taken.
    const beforePanic = domain.listCheckpoints().at(-1).seq;
    guest.command('panic');
    await until('the domain crashed', () => domain.state === 'crashed', 60_000, () => guest.console().slice(-3000));
    assert.equal(domain.info().shutdownReason, 'crash');
    assert.match(guest.console(), /Kernel panic - not syncing: sysrq triggered crash/);
    const consoleAtCrash = guest.console().length;

    const rollback = await domain.rollback(beforePanic);
    assert.equal(rollback.revived, true);
    assert.equal(domain.state, 'running');
    assert.deepEqual(states.slice(-2), ['crashed', 'running']);

    const result = await runWorkload(guest);
    assert.equal(result.checksum, expected, 'the revived kernel runs the workload to the host checksum');
    const slept = await timeSleep(guest);
    assert.ok(slept.guestMs >= 950 && slept.guestMs <= 10_000, `sleep 1 took ${slept.guestMs} ms by the guest's clock`);
    const since = guest.console().slice(consoleAtCrash);
    assert.doesNotMatch(since, kernelTrouble, 'the revived kernel logged no Oops, BUG, warning or stall');
    console.log('xen-measure', JSON.stringify({ run: 'linux-pvh-revive', rollbackMs: rollback.durationNs / 1e6, pagesRestored: rollback.pagesRestored }));
  } finally {
    domain.detach();
  }
});
