// An operator protects a running Linux domain by name through the service's
// REST API, in the rig's dom0 (node --test): the host view, refusals, 20
// rollbacks through the API, a panic that the service detects and recovers
// by itself, and unprotecting, proven by the guest's own output. (A hang
// through the heartbeat agent was recovered in one run and not detected in
// another: not here until that is understood; see the Xen README.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { seededRandom } from '../../../packages/native-core/dist/index.js';
import { destroyLinuxGuests, hostChecksum, kernelTrouble, runWorkload, startLinux, timeSleep } from '../lib/linux-guest.mjs';
import { api, sleep, startServer, until, viewer } from '../lib/service.mjs';

const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  destroyLinuxGuests();
});

/** The VM's events of these types, oldest first. */
async function events(base, vmId, types) {
  const answer = await api(base, 'GET', `/api/vms/${vmId}/events?types=${types}&limit=500`, undefined, viewer);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.events.map((e) => e.event).reverse();
}

test('a Linux domain protected by name through the API: rollbacks, a panic recovered by the service, then unprotected', async () => {
  const expected = hostChecksum();
  const guest = await startLinux('web1');
  const server = await startServer(cleanups);
  const { base } = server;

  // The host as the operator sees it.
  const listed = await api(base, 'GET', '/api/host/domains', undefined, viewer);
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  const web1 = listed.body.domains.find((d) => d.name === 'web1');
  assert.deepEqual(
    { domid: web1.domid, type: web1.type, state: web1.state, vcpus: web1.vcpus, protectedBy: web1.protectedBy, refusal: web1.refusal },
    { domid: guest.domid, type: 'pvh', state: 'running', vcpus: 1, protectedBy: null, refusal: null },
  );
  assert.match(listed.body.domains.find((d) => d.domid === 0).refusal, /control domain/);

  // What cannot be protected is refused, clearly, and nothing changes.
  const refusals = [
    [{ domain: 'no-such-domain' }, 404, /there is no domain no-such-domain on this host \(domains: web1\)/],
    [{ domain: '0' }, 400, /domain 0 cannot be protected: domain 0 is the control domain/],
    [{ domain: 'web1', backend: 'kvm' }, 400, /domain is for backend xen only/],
    [{ domain: 'web1', domid: guest.domid }, 400, /give domain or domid, not both/],
    [{ domain: 'web1;rm' }, 400, /domain/],
  ];
  for (const [body, status, message] of refusals) {
    const answer = await api(base, 'POST', '/api/vms', body);
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    assert.match(answer.body.error.message, message);
  }
  assert.deepEqual((await api(base, 'GET', '/api/vms', undefined, viewer)).body.vms, []);

  // Protected by name, with 10 s of checkpoints. The detectors' bounds are
  // set for emulation: the guest takes seconds from reading a command to
  // panicking, and its heartbeat agent may pause for seconds in a slowed guest.
  const created = await api(base, 'POST', '/api/vms', {
    domain: 'web1',
    settings: { intervalMs: 100, retention: 100, hangTimeoutMs: 10_000, crashLatencyMs: 5000, recurrenceWindowMs: 15_000 },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body) + server.log.join(''));
  const vmId = created.body.id;
  assert.equal(created.body.name, 'web1');
  assert.equal(created.body.backend, 'xen');
  assert.equal(created.body.spec.domid, guest.domid);
  const again = await api(base, 'POST', '/api/vms', { domain: String(guest.domid) });
  assert.equal(again.status, 409, JSON.stringify(again.body));
  assert.match(again.body.error.message, new RegExp(`already protected by VM ${vmId}`));
  assert.equal((await api(base, 'GET', '/api/host/domains', undefined, viewer)).body.domains.find((d) => d.name === 'web1').protectedBy, vmId);

  const checkpoints = async () => (await api(base, 'GET', `/api/vms/${vmId}/checkpoints`, undefined, viewer)).body.checkpoints;
  let vmView = null;
  await until('checkpoints', async () => {
    vmView = (await api(base, 'GET', `/api/vms/${vmId}`, undefined, viewer)).body;
    return (await checkpoints()).length >= 20;
  }, 120_000, () => `the VM: ${JSON.stringify(vmView)}\n${server.log.join('')}`);

  // 20 rollbacks through the API while the workload runs.
  const random = seededRandom(7);
  let rollbacks = 0;
  const result = await runWorkload(guest, async () => {
    const startSeq = (await checkpoints()).at(-1).seq;
    while (rollbacks < 20) {
      assert.equal(guest.read('uckpt-result'), null, `the workload finished after only ${rollbacks} rollbacks`);
      await sleep(200 + random() * 500);
      const targets = (await checkpoints()).filter((c) => c.seq > startSeq);
      if (targets.length === 0) continue;
      const answer = await api(base, 'POST', `/api/vms/${vmId}/rollback`, { to: targets[Math.floor(random() * targets.length)].seq });
      if (answer.status === 200) rollbacks++;
      else assert.match(answer.body.error.message, /is not retained/, JSON.stringify(answer.body));
    }
  });
  assert.equal(result.checksum, expected);
  const slept = await timeSleep(guest);
  assert.ok(slept.guestMs >= 950 && slept.guestMs <= 10_000, `sleep 1 took ${slept.guestMs} ms by the guest's clock`);

  // A kernel panic: the service sees the crash, rolls back to before it and
  // the domain runs on.
  const consoleBeforePanic = guest.console().length;
  guest.command('panic');
  const crash = await until('the crash alert', async () => (await events(base, vmId, 'alert')).find((a) => a.detector === 'crash'), 120_000, () => server.log.join(''));
  assert.equal(crash.action, 'rollback', JSON.stringify(crash));
  await until('the recovery', async () => (await events(base, vmId, 'recovery')).find((r) => r.alertId === crash.alertId && r.outcome === 'recovered'), 120_000);
  assert.equal((await api(base, 'GET', `/api/vms/${vmId}`, undefined, viewer)).body.state, 'running');
  assert.match(guest.console().slice(consoleBeforePanic), /Kernel panic - not syncing: sysrq triggered crash/);
  const consoleAfterRevival = guest.console().length;
  assert.equal((await runWorkload(guest)).checksum, expected, 'the revived kernel runs the workload to the host checksum');

  assert.doesNotMatch(guest.console().slice(consoleAfterRevival), kernelTrouble);

  // Unprotected: the domain runs on, untouched, and works as before.
  assert.equal((await api(base, 'DELETE', `/api/vms/${vmId}`)).status, 204);
  assert.match(execFileSync('xl', ['list', 'web1'], { encoding: 'utf8' }), /web1\s+\d+\s+\d+\s+\d+\s+[rb-]+\s/);
  assert.equal((await api(base, 'GET', '/api/host/domains', undefined, viewer)).body.domains.find((d) => d.name === 'web1').protectedBy, null);
  assert.equal((await runWorkload(guest)).checksum, expected);
  console.log('xen-measure', JSON.stringify({ run: 'linux-pvh-service', rollbacks, crashAlert: crash.message }));
});
