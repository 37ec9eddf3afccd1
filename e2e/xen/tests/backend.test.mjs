// The Xen backend against real PVH domUs, run inside the rig's dom0
// (node --test). Timings under TCG are noise: this asserts properties and
// prints the numbers (one "xen-measure" JSON line per measured run).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { XenDomain } from '../../../packages/native-xen/dist/index.js';
import { formatChecksum, guestImagePath, runOnHost } from '../../../packages/guest/dist/index.js';
import { percentiles, seededRandom } from '../../../packages/native-core/dist/index.js';

const statusDone = 2;
const finalStatuses = new Set([2, 3, 4, 5]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const created = new Set();

/** Runs xl; its own error messages become the exception's. */
function xl(...args) {
  try {
    return execFileSync('xl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    throw new Error(`xl ${args.join(' ')} failed: ${error.stderr || error.message}`);
  }
}

/** Creates a domU from a config; paused, so that nothing runs before the test attaches. */
function createDomain(name, lines) {
  const cfg = path.join(os.tmpdir(), `${name}.cfg`);
  writeFileSync(cfg, [`name = "${name}"`, ...lines, 'on_crash = "preserve"', 'on_poweroff = "preserve"', ''].join('\n'));
  xl('create', '-p', '-q', cfg);
  const domid = Number(xl('domid', name).trim());
  created.add(domid);
  return domid;
}

/** A PVH domU running the project's workload image with these parameters. */
function createWorkload(name, params, memoryMiB = 64) {
  return createDomain(name, [
    'type = "pvh"',
    `kernel = "${guestImagePath}"`,
    `cmdline = "${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ')}"`,
    `memory = ${memoryMiB}`,
    'vcpus = 1',
    // TCG's emulated SVM lacks NRIPS: without it the guest loops on RDTSCP.
    'tsc_mode = "native"',
  ]);
}

function destroy(domid) {
  try {
    execFileSync('xl', ['destroy', String(domid)], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  created.delete(domid);
}

async function until(what, predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * Rolls back to a checkpoint drawn from those retained. The epoch loop
 * runs on meanwhile and may retire the one drawn: then another is drawn.
 */
async function rollbackToRandom(domain, random) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const checkpoints = domain.listCheckpoints();
    if (checkpoints.length === 0) return null;
    const target = checkpoints[Math.floor(random() * checkpoints.length)].seq;
    try {
      const result = await domain.rollback(target);
      assert.equal(result.seq, target);
      return result;
    } catch (error) {
      if (!/is not retained/.test(error.message)) throw error;
    }
  }
  throw new Error('five checkpoints in a row were retired before the rollback reached them');
}

function collectEpochs(domain) {
  const epochs = [];
  domain.on('epoch', (epoch) => epochs.push(epoch));
  return epochs;
}

function measure(label, values) {
  const { p50, p99 } = percentiles(values);
  return { label, n: values.length, p50, p99 };
}

after(() => {
  for (const domid of created) destroy(domid);
});

test('attach refuses dom0, a missing domain and a PV guest, clearly', () => {
  assert.throws(() => XenDomain.attach(0), /domain 0 is the control domain/);
  assert.throws(() => XenDomain.attach(31000), /there is no domain 31000/);
  // dom0's own kernel boots as a PV guest; it never runs (created paused).
  const kernel = execFileSync('sh', ['-c', 'ls /boot/vmlinuz-* | tail -n 1'], { encoding: 'utf8' }).trim();
  const pv = createDomain('uckpt-pv', ['type = "pv"', `kernel = "${kernel}"`, 'memory = 128']);
  try {
    assert.throws(() => XenDomain.attach(pv), /PV guest: unsupported: Debian's Xen has no shadow paging for PV log-dirty/);
  } finally {
    destroy(pv);
  }
});

test('epochs report the pages written, none after a CLEAN while paused; checkpoints are kept', async () => {
  const domid = createWorkload('uckpt-epochs', { workload: 'sort', seed: 1, size: 1, repeat: 0 });
  const domain = XenDomain.attach(domid);
  try {
    const info = domain.info();
    assert.equal(info.hvm, true);
    assert.ok(info.frames >= (64 << 20) / 4096, `frames ${info.frames}`);
    const epochs = collectEpochs(domain);
    domain.enableCheckpointing({ intervalMs: 50, retention: 8 });
    xl('unpause', String(domid));
    await until('a running workload', () => (domain.mailbox()?.progress ?? 0) > 0, 60_000);
    await until('epochs with written pages', () => epochs.filter((e) => e.dirtyPages > 0).length >= 5, 60_000);

    // Held paused, the guest writes nothing: every CLEAN after the first finds no page.
    domain.pause();
    const pausedFrom = epochs.length;
    await until('three epochs while paused', () => epochs.length >= pausedFrom + 4, 30_000);
    domain.resume();
    const whilePaused = epochs.slice(pausedFrom + 1, pausedFrom + 4).map((e) => e.dirtyPages);
    assert.deepEqual(whilePaused, [0, 0, 0]);

    await until('written pages again', () => epochs.slice(pausedFrom + 4).some((e) => e.dirtyPages > 0), 30_000);
    const checkpoints = domain.listCheckpoints();
    assert.equal(checkpoints.length, 8);
    assert.ok(checkpoints.every((c) => c.verified));
    const stats = domain.stats();
    assert.equal(stats.dirtyTracking, 'xen-log-dirty');
    assert.equal(stats.mode, 'stop-and-copy');
    assert.equal(domain.testLogDirtyInXen(), true);

    // Checkpointing off: Xen tracks writes no more (each first write would fault into it).
    domain.disableCheckpointing();
    await until('log-dirty off', () => !domain.testLogDirtyInXen(), 10_000);
  } finally {
    domain.detach();
    destroy(domid);
  }
});

test('20 rollbacks at random moments: the workload ends with its host checksum', async () => {
  const params = { workload: 'sort', seed: 3, size: 1 };
  const expected = (await runOnHost({ workload: params.workload, seed: params.seed, size: params.size })).checksum;
  const domid = createWorkload('uckpt-rollbacks', { ...params, repeat: 1 });
  const domain = XenDomain.attach(domid);
  const random = seededRandom(7);
  try {
    const epochs = collectEpochs(domain);
    domain.enableCheckpointing({ intervalMs: 50, retention: 8 });
    const started = Date.now();
    xl('unpause', String(domid));
    const rollbacks = [];
    while (rollbacks.length < 20) {
      await sleep(100 + random() * 400);
      const mailbox = domain.mailbox();
      if (mailbox && finalStatuses.has(mailbox.status)) break;
      const result = await rollbackToRandom(domain, random);
      if (result) rollbacks.push(result);
    }
    const mailbox = await until('the end of the run', () => {
      const m = domain.mailbox();
      return m && finalStatuses.has(m.status) ? m : null;
    }, 300_000);
    assert.equal(mailbox.status, statusDone, `status ${mailbox.status}: ${mailbox.error}`);
    assert.equal(formatChecksum(mailbox.result), expected);
    assert.equal(rollbacks.length, 20, `the run ended after ${rollbacks.length} rollbacks: make it longer`);
    const busy = epochs.filter((e) => e.dirtyPages > 0);
    console.log(
      'xen-measure ' +
        JSON.stringify({
          run: `${params.workload} seed ${params.seed} size ${params.size}, 64 MiB PVH, 50 ms, retention 8`,
          checksum: formatChecksum(mailbox.result),
          expected,
          wallMs: Date.now() - started,
          epochs: epochs.length,
          rollbacks: rollbacks.length,
          pagesRestored: measure('pages restored', rollbacks.map((r) => r.pagesRestored)),
          rollbackMs: measure('rollback ms', rollbacks.map((r) => r.durationNs / 1e6)),
          dirtyPages: measure('dirty pages', busy.map((e) => e.dirtyPages)),
          pauseMs: measure('pause ms', busy.map((e) => e.pauseNs / 1e6)),
          cleanMs: measure('CLEAN ms', busy.map((e) => e.harvestNs / 1e6)),
          copyMs: measure('map+copy ms', busy.map((e) => e.copyNs / 1e6)),
        }),
    );
  } finally {
    domain.detach();
    destroy(domid);
  }
});

test('a domain its operator pauses is reported paused and not checkpointed until it runs again', async () => {
  const domid = createWorkload('uckpt-operator-pause', { workload: 'sort', seed: 1, size: 1, repeat: 0 });
  xl('unpause', String(domid));
  xl('pause', String(domid));
  // Attaching to a domain paused by someone else works; nothing unpauses it.
  const domain = XenDomain.attach(domid);
  const states = [];
  domain.on('state', (state) => states.push(state));
  try {
    assert.equal(domain.info().state, 'paused');
    const epochs = collectEpochs(domain);
    domain.enableCheckpointing({ intervalMs: 20, retention: 4 });
    await sleep(1500);
    assert.equal(epochs.length, 0, 'epochs of a domain its operator keeps paused');
    assert.equal(domain.info().state, 'paused');
    const seq = await domain.checkpointNow(); // on request, still taken
    assert.ok(seq > 0);

    xl('unpause', String(domid));
    await until('epochs once it runs', () => epochs.length >= 5, 60_000);
    xl('pause', String(domid));
    await until('the pause seen', () => states.includes('paused'), 10_000).catch((error) => {
      throw new Error(`${error.message}: states ${states.join(' ')}, now ${domain.info().state}, ${epochs.length} epochs`);
    });
    await sleep(500);
    const seen = epochs.length;
    await sleep(1000);
    assert.equal(epochs.length, seen, 'epochs while paused by its operator');
    xl('unpause', String(domid));
    await until('epochs again', () => epochs.length > seen + 3, 60_000);
    assert.deepEqual(states.slice(0, 3), ['running', 'paused', 'running']);
  } finally {
    domain.detach();
    destroy(domid);
  }
});

test('detach leaves the domain running with log-dirty off', async () => {
  const domid = createWorkload('uckpt-detach', { workload: 'sort', seed: 1, size: 1, repeat: 0 });
  xl('unpause', String(domid));
  const domain = XenDomain.attach(domid);
  try {
    domain.enableCheckpointing({ intervalMs: 20, retention: 4 });
    await until('checkpoints', () => domain.listCheckpoints().length === 4, 60_000);
    domain.detach();
    assert.equal(domain.state, 'detached');
    assert.throws(() => domain.listCheckpoints(), /detached from domain/);

    const again = XenDomain.attach(domid);
    try {
      assert.equal(again.info().state, 'running');
      assert.equal(again.testLogDirtyInXen(), false);
      const before = again.mailbox().progress;
      await until('progress after the detach', () => again.mailbox().progress > before, 30_000);
    } finally {
      again.detach();
    }
  } finally {
    destroy(domid);
  }
});

test('a domain destroyed mid-epoch is reported, not crashed on', async () => {
  const domid = createWorkload('uckpt-destroyed', { workload: 'sort', seed: 1, size: 1, repeat: 0 });
  const domain = XenDomain.attach(domid);
  const states = [];
  const errors = [];
  domain.on('state', (state) => states.push(state));
  domain.on('checkpoint-error', (message) => errors.push(message));
  try {
    const epochs = collectEpochs(domain);
    domain.enableCheckpointing({ intervalMs: 10, retention: 4 });
    xl('unpause', String(domid));
    await until('epochs', () => epochs.length >= 10, 60_000);
    destroy(domid);
    await until('the domain reported gone', () => states.some((s) => s === 'gone' || s === 'dying'), 10_000);
    // The epoch loop either saw it end (no more epochs) or failed on it and said why.
    await sleep(500);
    const seen = epochs.length;
    await sleep(500);
    assert.equal(epochs.length, seen, 'epochs go on for a destroyed domain');
    for (const message of errors) assert.match(message, /domain \d+ no longer exists/);
    await assert.rejects(domain.rollback('latest'), /./);
  } finally {
    domain.detach();
  }
  assert.equal(domain.state, 'detached');
});
