// The service in dom0: `uckpt serve` attaches a running PVH domU through
// POST /api/vms and streams its epochs on the telemetry WebSocket, checked
// from inside dom0 (node --test, run by the rig).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { guestImagePath } from '../../../packages/guest/dist/index.js';
import { api, startServer, until, viewer, WebSocket } from '../lib/service.mjs';

const cleanups = [];

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function startDomain(name) {
  const cfg = path.join(os.tmpdir(), `${name}.cfg`);
  writeFileSync(cfg, [
    `name = "${name}"`,
    'type = "pvh"',
    `kernel = "${guestImagePath}"`,
    'cmdline = "workload=sort seed=1 size=1 repeat=0"',
    'memory = 64',
    'vcpus = 1',
    'tsc_mode = "native"',
    '',
  ].join('\n'));
  execFileSync('xl', ['create', '-q', cfg], { stdio: ['ignore', 'ignore', 'inherit'] });
  const domid = Number(execFileSync('xl', ['domid', name], { encoding: 'utf8' }).trim());
  cleanups.push(() => execFileSync('xl', ['destroy', String(domid)], { stdio: 'ignore' }));
  return domid;
}

test('uckpt serve in dom0 attaches a domain through POST /api/vms and streams its epochs', async () => {
  const domid = startDomain('uckpt-served');
  const server = await startServer(cleanups);

  const refused = await api(server.base, 'POST', '/api/vms', { name: 'no-domid', workload: 'sort', backend: 'xen' });
  assert.equal(refused.status, 400);
  assert.match(refused.body.error.message, /backend xen needs domain or domid/);
  const missing = await api(server.base, 'POST', '/api/vms', { name: 'missing', workload: 'sort', backend: 'xen', domid: 31000 });
  assert.equal(missing.status, 400, JSON.stringify(missing.body));
  assert.match(missing.body.error.message, /there is no domain 31000/);

  const created = await api(server.base, 'POST', '/api/vms', {
    name: 'xen-sort', workload: 'sort', backend: 'xen', domid,
    // Emulated, the guest advances in bursts: a heartbeat tuned for hardware would see hangs.
    settings: { intervalMs: 100, retention: 8, hangTimeoutMs: 10_000 },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body) + server.log.join(''));
  assert.equal(created.body.backend, 'xen');
  assert.equal(created.body.simulated, false);
  assert.equal(created.body.settings.predictor, 'off');
  const vmId = created.body.id;

  const epochs = [];
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws/telemetry`, ['uckpt.v1', `bearer.${viewer}`]);
  cleanups.push(() => socket.terminate());
  socket.on('message', (data) => {
    const event = JSON.parse(String(data));
    if (event.type === 'epoch') epochs.push(event);
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'subscribe', vms: [vmId] }));

  await until('epochs with written pages on the WebSocket', () => epochs.filter((e) => e.vmId === vmId && e.dirtyPages > 0).length >= 5, 120_000);
  let last;
  const vm = await until('checkpoints retained', async () => {
    last = (await api(server.base, 'GET', `/api/vms/${vmId}`)).body;
    return last.state === 'running' && last.checkpointsRetained > 0 ? last : null;
  }, 60_000).catch((error) => {
    throw new Error(`${error.message}; the VM: ${JSON.stringify(last)}\n${server.log.join('')}`);
  });
  assert.ok(vm.progress.units > 0);

  const checkpoint = await api(server.base, 'POST', `/api/vms/${vmId}/checkpoints`);
  assert.equal(checkpoint.status, 201, JSON.stringify(checkpoint.body));
  const rollback = await api(server.base, 'POST', `/api/vms/${vmId}/rollback`, { to: checkpoint.body.seq });
  assert.equal(rollback.status, 200, JSON.stringify(rollback.body));

  const removed = await api(server.base, 'DELETE', `/api/vms/${vmId}`);
  assert.equal(removed.status, 204);
  // Detached, the domain runs on.
  const state = execFileSync('xl', ['list', String(domid)], { encoding: 'utf8' });
  assert.match(state, /uckpt-served/);
  console.log(`xen-measure ${JSON.stringify({ served: { epochs: epochs.length, dirtyPagesMax: Math.max(...epochs.map((e) => e.dirtyPages)) } })}`);
});
