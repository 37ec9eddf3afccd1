// A real Linux PVH domU under the Xen backend, run inside the rig's dom0
// (node --test), through the backend's JavaScript face: rollbacks at random
// moments and a revived panic, proven by the guest's own output (see
// ../lib/linux-guest.mjs).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { XenDomain } from '../../../packages/native-xen/dist/index.js';
import { percentiles, seededRandom } from '../../../packages/native-core/dist/index.js';
import { destroyLinuxGuests, hostChecksum, kernelTrouble, runWorkload, startLinux, timeSleep } from '../lib/linux-guest.mjs';
import { sleep, until } from '../lib/service.mjs';

after(destroyLinuxGuests);

test('a Linux PVH domU survives 20 rollbacks at random moments: same checksum, no kernel complaint, timers and xenstore work', async () => {
  const expected = hostChecksum();
  const guest = await startLinux('uckpt-linux');
  const domain = XenDomain.attach(guest.domid);
  const epochs = [];
  domain.on('epoch', (epoch) => epochs.push(epoch));
  domain.enableCheckpointing({ intervalMs: 50, retention: 8 });
  try {
    await until('idle epochs', () => epochs.length >= 40, 120_000, () => `${epochs.length} epochs; stats ${JSON.stringify(domain.stats())}`);
    const idle = epochs.slice(-30);
    const consoleBefore = guest.console().length;
    const random = seededRandom(25);
    const rollbacks = [];
    let busyFrom = 0;
    const result = await runWorkload(guest, async () => {
      busyFrom = epochs.length;
      const startSeq = domain.listCheckpoints().at(-1).seq;
      while (rollbacks.length < 20) {
        assert.equal(await guest.read('uckpt-result'), null, `the workload finished after only ${rollbacks.length} rollbacks`);
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
    const beats = Number(await guest.read('uckpt-heartbeat'));
    await sleep(2000);
    assert.ok(Number(await guest.read('uckpt-heartbeat')) > beats, 'the heartbeat agent still ticks its xenstore key');
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
        // Checkpoints put off while the guest was mid-exchange with xenstored.
        deferredEpochs: domain.stats().deferredEpochs,
        epochs: domain.stats().epochs,
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
  // Checkpoints for 10 s back: under emulation the guest takes seconds to
  // read the command and panic, and the checkpoint from before must be kept.
  domain.enableCheckpointing({ intervalMs: 200, retention: 50 });
  try {
    await until('epochs', () => epochs >= 10, 120_000, () => `${epochs} epochs; stats ${JSON.stringify(domain.stats())}`);
    // The guest idles in its command loop: a checkpoint from now has not
    // read the command yet, and after the rollback finds it taken.
    const beforePanic = domain.listCheckpoints().at(-1).seq;
    await guest.command('panic');
    await until('the domain crashed', () => domain.state === 'crashed', 60_000, guest.report);
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
