// The REST contract: every route with valid and invalid input, and auth by
// role. VMs here use the simulated backend (a labelled test double): these
// tests are about the HTTP layer; api-kvm.test.ts drives real KVM VMs.
import { existsSync } from 'node:fs';
import { defaultSettings, describeHost } from '@uckpt/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOperator, asViewer, startServer, until, type TestServer } from './helper.js';

let server: TestServer;
let vmId: string;

beforeAll(async () => {
  server = await startServer({ rateLimits: { mutationsPerMinute: 10_000 } });
  const created = await server.app.inject({
    method: 'POST',
    url: '/api/vms',
    headers: asOperator,
    payload: { name: 'sim-one', workload: 'graph', backend: 'sim', settings: { intervalMs: 100 } },
  });
  expect(created.statusCode, created.body).toBe(201);
  vmId = created.json().id;
  await until(async () => (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}`, headers: asOperator })).json().state === 'running', 'the VM to run');
});

afterAll(async () => server?.close());

const routes = () => [
  { method: 'GET', url: '/api/session' },
  { method: 'GET', url: '/api/workloads' },
  { method: 'GET', url: '/api/host' },
  // Allowed to viewers; without Xen it answers what is missing.
  { method: 'GET', url: '/api/host/domains', viewerStatus: existsSync('/proc/xen/privcmd') ? 200 : 503 },
  { method: 'GET', url: `/api/vms/${vmId}/epochs` },
  { method: 'GET', url: '/api/vms' },
  { method: 'GET', url: `/api/vms/${vmId}` },
  { method: 'GET', url: `/api/vms/${vmId}/checkpoints` },
  { method: 'GET', url: `/api/vms/${vmId}/events` },
  { method: 'GET', url: `/api/vms/${vmId}/console` },
  { method: 'GET', url: '/api/audit' },
  { method: 'GET', url: '/metrics' },
  { method: 'POST', url: '/api/vms', payload: { name: 'x', workload: 'graph', backend: 'sim' } },
  { method: 'DELETE', url: `/api/vms/${vmId}` },
  { method: 'PATCH', url: `/api/vms/${vmId}/config`, payload: { intervalMs: 100 } },
  { method: 'POST', url: `/api/vms/${vmId}/checkpoints` },
  { method: 'POST', url: `/api/vms/${vmId}/rollback`, payload: { to: 'latest' } },
] as const;

describe('auth', () => {
  it('health needs no token', async () => {
    const answer = await server.app.inject({ method: 'GET', url: '/api/health' });
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toMatchObject({ status: 'ok' });
  });

  it('every other route refuses a missing or wrong token with 401', async () => {
    for (const route of routes()) {
      for (const headers of [{}, { authorization: 'Bearer not-a-valid-token-at-all' }, { authorization: 'Basic abc' }]) {
        const answer = await server.app.inject({ ...route, headers });
        expect(answer.statusCode, `${route.method} ${route.url}`).toBe(401);
        expect(answer.json().error.code).toBe('unauthorized');
      }
    }
  });

  it('a viewer may read but every mutation is 403 and changes nothing', async () => {
    for (const route of routes()) {
      const answer = await server.app.inject({ ...route, headers: asViewer });
      if (route.method === 'GET') expect(answer.statusCode, route.url).toBe('viewerStatus' in route ? route.viewerStatus : 200);
      else expect(answer.statusCode, `${route.method} ${route.url}`).toBe(403);
    }
    const vm = await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}`, headers: asViewer });
    expect(vm.json().settings.intervalMs).toBe(100);
    const vms = await server.app.inject({ method: 'GET', url: '/api/vms', headers: asViewer });
    expect(vms.json().vms).toHaveLength(1);
  });

  it('the session route tells the role', async () => {
    expect((await server.app.inject({ method: 'GET', url: '/api/session', headers: asViewer })).json()).toEqual({ role: 'viewer', faultInjection: true });
    expect((await server.app.inject({ method: 'GET', url: '/api/session', headers: asOperator })).json()).toEqual({ role: 'operator', faultInjection: true });
  });

  it("the viewer's refused attempts are audited with its role, never its token", async () => {
    const audit = await server.app.inject({ method: 'GET', url: '/api/audit?action=vm.config', headers: asOperator });
    const entries = audit.json().entries as { role: string; result: string; tokenLabel: string }[];
    const refused = entries.find((entry) => entry.role === 'viewer');
    expect(refused?.result).toMatch(/^error: forbidden/);
    expect(JSON.stringify(entries)).not.toContain('test-viewer-token');
  });
});

describe('input validation', () => {
  const badCreates: [string, unknown][] = [
    ['unknown field', { name: 'a', workload: 'graph', colour: 'red' }],
    ['missing name', { workload: 'graph' }],
    ['name with a space', { name: 'a b', workload: 'graph' }],
    ['memory as a string', { name: 'a', workload: 'graph', memoryMiB: '512' }],
    ['memory too large', { name: 'a', workload: 'graph', memoryMiB: 1e12 }],
    ['negative seed', { name: 'a', workload: 'graph', seed: -1 }],
    ['fractional vcpus', { name: 'a', workload: 'graph', vcpus: 1.5 }],
    ['unknown backend', { name: 'a', workload: 'graph', backend: 'hyperv' }],
    ['xen without a domid', { name: 'a', workload: 'graph', backend: 'xen' }],
    ['a domid for kvm', { name: 'a', workload: 'graph', domid: 3 }],
    ['domid 0 (dom0 itself)', { name: 'a', workload: 'graph', backend: 'xen', domid: 0 }],
    ['a reserved domid', { name: 'a', workload: 'graph', backend: 'xen', domid: 0x7ff0 }],
    ['prediction on xen', { name: 'a', workload: 'graph', backend: 'xen', domid: 3, settings: { predictor: 'cost' } }],
    ['unknown workload', { name: 'a', workload: 'nope' }],
    ['no name', { workload: 'graph' }],
    ['no workload', { name: 'a' }],
    ['a domain for kvm', { domain: 'web1', backend: 'kvm' }],
    ['both domain and domid', { domain: 'web1', domid: 3 }],
    ['a domain name with a shell character', { domain: 'web1;reboot' }],
    ['an empty domain name', { domain: '' }],
    ['unknown setting', { name: 'a', workload: 'graph', settings: { speed: 9 } }],
    ['interval 0', { name: 'a', workload: 'graph', settings: { intervalMs: 0 } }],
    ['huge name', { name: 'a'.repeat(10_000), workload: 'graph' }],
    ['not an object', [1, 2, 3]],
  ];
  for (const [what, payload] of badCreates) {
    it(`POST /api/vms refuses ${what} with 400 and creates nothing`, async () => {
      const answer = await server.app.inject({ method: 'POST', url: '/api/vms', headers: asOperator, payload: payload as object });
      expect(answer.statusCode, answer.body).toBe(400);
      expect(answer.json().error.code).toMatch(/invalid-argument|bad-request/);
      expect((await server.app.inject({ method: 'GET', url: '/api/vms', headers: asOperator })).json().vms).toHaveLength(1);
    });
  }

  it.skipIf(existsSync('/proc/xen/privcmd'))('a Xen VM on a host without Xen is refused with what is missing, and creates nothing', async () => {
    const answer = await server.app.inject({ method: 'POST', url: '/api/vms', headers: asOperator, payload: { name: 'x', workload: 'graph', backend: 'xen', domid: 3 } });
    expect(answer.statusCode, answer.body).toBe(503);
    expect(answer.json().error).toMatchObject({ code: 'backend-unavailable', message: expect.stringMatching(/no Xen hypervisor \(privcmd\) found/) });
    expect((await server.app.inject({ method: 'GET', url: '/api/vms', headers: asOperator })).json().vms).toHaveLength(1);
  });

  it.skipIf(existsSync('/proc/xen/privcmd'))('protecting a domain by name on a host without Xen is refused with what is missing, and creates nothing', async () => {
    const answer = await server.app.inject({ method: 'POST', url: '/api/vms', headers: asOperator, payload: { domain: 'web1' } });
    expect(answer.statusCode, answer.body).toBe(503);
    expect(answer.json().error).toMatchObject({ code: 'backend-unavailable', message: expect.stringMatching(/no Xen hypervisor \(privcmd\) found/) });
    expect((await server.app.inject({ method: 'GET', url: '/api/vms', headers: asOperator })).json().vms).toHaveLength(1);
    const domains = await server.app.inject({ method: 'GET', url: '/api/host/domains', headers: asViewer });
    expect(domains.statusCode, domains.body).toBe(503);
    expect(domains.json().error.message).toMatch(/no Xen hypervisor \(privcmd\) found/);
  });

  it('refuses a body over the size limit with 413', async () => {
    const answer = await server.app.inject({ method: 'POST', url: '/api/vms', headers: { ...asOperator, 'content-type': 'application/json' }, payload: `{"name":"${'x'.repeat(100_000)}"}` });
    expect(answer.statusCode).toBe(413);
  });

  const badPatches: [string, unknown][] = [
    ['an empty patch', {}],
    ['an unknown field', { intervalMs: 50, turbo: true }],
    ['a string interval', { intervalMs: '50' }],
    ['an interval too long', { intervalMs: 10_001 }],
    ['retention 0', { retention: 0 }],
    ['an unknown mode', { mode: 'remus' }],
    ['an unknown predictor', { predictor: 'oracle' }],
    ['enabled as a string', { enabled: 'yes' }],
    ['precopy as a string, beside a good interval', { precopy: 'no', intervalMs: 60 }],
    ['autoTune as a string', { autoTune: 'on' }],
    ['autoTune as a number', { autoTune: 1 }],
    ['a zero overhead budget', { autoTune: true, overheadBudgetPct: 0 }],
    ['an overhead budget above 50 %', { overheadBudgetPct: 51 }],
    ['a string overhead budget', { overheadBudgetPct: '3' }],
    ['a negative error rate', { errorRatePerHour: -1 }],
  ];
  for (const [what, payload] of badPatches) {
    it(`PATCH config refuses ${what} and changes nothing`, async () => {
      const answer = await server.app.inject({ method: 'PATCH', url: `/api/vms/${vmId}/config`, headers: asOperator, payload: payload as object });
      expect(answer.statusCode, answer.body).toBe(400);
      const vm = await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}`, headers: asOperator });
      expect(vm.json().settings).toMatchObject({ intervalMs: 100, retention: defaultSettings.retention, enabled: true, precopy: true, autoTune: false, overheadBudgetPct: 3 });
    });
  }

  it('PATCH config turns copying ahead off and on again', async () => {
    for (const precopy of [false, true]) {
      const answer = await server.app.inject({ method: 'PATCH', url: `/api/vms/${vmId}/config`, headers: asOperator, payload: { precopy } });
      expect(answer.statusCode, answer.body).toBe(200);
      expect(answer.json().settings.precopy).toBe(precopy);
      const vm = await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}`, headers: asOperator });
      expect(vm.json().settings.precopy).toBe(precopy);
    }
  });

  it('PATCH config switches auto-tune on with a budget, answers with it, and off again', async () => {
    const on = await server.app.inject({ method: 'PATCH', url: `/api/vms/${vmId}/config`, headers: asOperator, payload: { autoTune: true, overheadBudgetPct: 1.5 } });
    expect(on.statusCode, on.body).toBe(200);
    expect(on.json().settings).toMatchObject({ autoTune: true, overheadBudgetPct: 1.5 });
    const vm = await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}`, headers: asOperator });
    expect(vm.json().settings).toMatchObject({ autoTune: true, overheadBudgetPct: 1.5 });
    const off = await server.app.inject({ method: 'PATCH', url: `/api/vms/${vmId}/config`, headers: asOperator, payload: { autoTune: false, overheadBudgetPct: 3, intervalMs: 100 } });
    expect(off.json().settings).toMatchObject({ autoTune: false, overheadBudgetPct: 3, intervalMs: 100 });
  });

  it('refuses bad rollback targets', async () => {
    for (const to of [0, -3, 1.5, 'newest', null, '7']) {
      const answer = await server.app.inject({ method: 'POST', url: `/api/vms/${vmId}/rollback`, headers: asOperator, payload: { to } });
      expect(answer.statusCode, JSON.stringify(to)).toBe(400);
    }
    const missing = await server.app.inject({ method: 'POST', url: `/api/vms/${vmId}/rollback`, headers: asOperator, payload: { to: 999_999 } });
    expect(missing.statusCode).toBe(409);
    expect(missing.json().error.code).toBe('rollback-refused');
  });

  it('malformed ids are 400, unknown ones 404', async () => {
    expect((await server.app.inject({ method: 'GET', url: '/api/vms/..%2Fetc', headers: asOperator })).statusCode).toBe(400);
    const unknown = await server.app.inject({ method: 'GET', url: '/api/vms/vm-00000000', headers: asOperator });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('not-found');
    expect((await server.app.inject({ method: 'GET', url: '/api/vms/vm-00000000/events', headers: asOperator })).statusCode).toBe(404);
    expect((await server.app.inject({ method: 'DELETE', url: '/api/vms/vm-00000000', headers: asOperator })).statusCode).toBe(404);
  });

  it('refuses bad query strings', async () => {
    for (const url of ['/api/audit?limit=0', '/api/audit?limit=5000', '/api/audit?limit=abc', '/api/audit?colour=red', `/api/vms/${vmId}/events?types=epoch`, `/api/vms/${vmId}/console?lines=-1`]) {
      expect((await server.app.inject({ method: 'GET', url, headers: asOperator })).statusCode, url).toBe(400);
    }
  });

  it('unknown routes are 404 in the error shape', async () => {
    const answer = await server.app.inject({ method: 'GET', url: '/api/nothing', headers: asOperator });
    expect(answer.statusCode).toBe(404);
    expect(answer.json().error.code).toBe('not-found');
  });
});

describe('a simulated VM through the API', () => {
  it('is labelled simulated', async () => {
    const vm = (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}`, headers: asOperator })).json();
    expect(vm).toMatchObject({ backend: 'sim', simulated: true, name: 'sim-one' });
  });

  it('changes settings, takes a checkpoint, rolls back, and audits each', async () => {
    const patched = await server.app.inject({ method: 'PATCH', url: `/api/vms/${vmId}/config`, headers: asOperator, payload: { retention: 4 } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().settings).toMatchObject({ retention: 4, intervalMs: 100 });
    const taken = await server.app.inject({ method: 'POST', url: `/api/vms/${vmId}/checkpoints`, headers: asOperator });
    expect(taken.statusCode, taken.body).toBe(201);
    const seq = taken.json().seq as number;
    const listed = (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}/checkpoints`, headers: asOperator })).json();
    expect(listed.checkpoints.map((c: { seq: number }) => c.seq)).toContain(seq);
    const rolled = await server.app.inject({ method: 'POST', url: `/api/vms/${vmId}/rollback`, headers: asOperator, payload: { to: seq } });
    expect(rolled.statusCode, rolled.body).toBe(200);
    expect(rolled.json().seq).toBe(seq);
    const actions = (await server.app.inject({ method: 'GET', url: `/api/audit?vmId=${vmId}`, headers: asOperator })).json().entries.map((e: { action: string; result: string }) => `${e.action} ${e.result}`);
    expect(actions).toEqual(expect.arrayContaining(['vm.config ok', 'vm.checkpoint ok', 'vm.rollback ok']));
    const events = (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}/events?types=rollback,checkpoint`, headers: asOperator })).json().events;
    expect(events.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['rollback', 'checkpoint']));
  });

  it('serves the OpenAPI document and metrics', async () => {
    const openapi = (await server.app.inject({ method: 'GET', url: '/api/openapi.json' })).json();
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/api/vms', '/api/vms/{id}/rollback', '/api/vms/{id}/config']));
    const metrics = await server.app.inject({ method: 'GET', url: '/metrics', headers: asViewer });
    expect(metrics.body).toContain(`uckpt_vm_info{vm="${vmId}"`);
  });
});

describe('rate limits', () => {
  it('limits mutations per token, not reads', async () => {
    const limited = await startServer({ rateLimits: { mutationsPerMinute: 3 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        statuses.push((await limited.app.inject({ method: 'POST', url: '/api/vms', headers: asOperator, payload: { name: 'x', workload: 'nope' } })).statusCode);
      }
      expect(statuses).toEqual([400, 400, 400, 429, 429]);
      expect((await limited.app.inject({ method: 'GET', url: '/api/vms', headers: asOperator })).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('telemetry WebSocket auth', () => {
  it('refuses a connection without a token or with a wrong one', async () => {
    await expect(server.app.injectWS('/ws/telemetry', { headers: { host: 'localhost' } })).rejects.toThrow(/401/);
    await expect(server.app.injectWS('/ws/telemetry', { headers: { host: 'localhost', authorization: 'Bearer wrong-token-wrong-token' } })).rejects.toThrow(/401/);
  });

  it('a viewer receives epochs of the simulated VM', async () => {
    const socket = await server.app.injectWS('/ws/telemetry', { headers: { host: 'localhost', 'sec-websocket-protocol': `uckpt.v1, bearer.${'test-viewer-token-0123456789'}` } });
    const epoch = await new Promise<{ type: string; vmId: string }>((resolve) => {
      socket.on('message', (data) => {
        const event = JSON.parse(String(data));
        if (event.type === 'epoch') resolve(event);
      });
    });
    expect(epoch.vmId).toBe(vmId);
    socket.terminate();
  });
});

describe('the host', () => {
  it('GET /api/host describes this host as the engine sees it, and a viewer may read it', async () => {
    const answer = await server.app.inject({ method: 'GET', url: '/api/host', headers: asViewer });
    expect(answer.statusCode).toBe(200);
    const host = answer.json();
    expect(host).toEqual(describeHost());
    // Whatever this host is, the answer is consistent: a hypervisor or what is lacking.
    if (host.hypervisor === null) expect(host.lacks.length).toBeGreaterThan(0);
    else expect(host.lacks).toEqual([]);
  });

  it('says emulated KVM and missing hypervisors as the description has them', async () => {
    const emulated = { hypervisor: 'kvm', version: '6.12', kvmFlavor: 'hardware', emulated: true, backends: { kvm: null, xen: 'no Xen' }, lacks: [] } as const;
    const none = { hypervisor: null, version: null, kvmFlavor: null, emulated: false, backends: { kvm: 'no /dev/kvm', xen: 'no Xen' }, lacks: ['no /dev/kvm', 'no Xen'] };
    for (const description of [emulated, none]) {
      const other = await startServer({ describeHost: () => description });
      try {
        const answer = await other.app.inject({ method: 'GET', url: '/api/host', headers: asViewer });
        expect(answer.json()).toEqual(description);
      } finally {
        await other.close();
      }
    }
  });

  it('gives a VM created on an emulated host a hang timeout that a slowed guest does not trip; a given one wins', async () => {
    const emulated = { hypervisor: 'kvm', version: '6.12', kvmFlavor: 'hardware', emulated: true, backends: { kvm: null, xen: 'no Xen' }, lacks: [] } as const;
    const other = await startServer({ describeHost: () => emulated });
    try {
      const create = (name: string, settings?: object) =>
        other.app.inject({ method: 'POST', url: '/api/vms', headers: asOperator, payload: { name, workload: 'graph', backend: 'sim', ...(settings && { settings }) } });
      const byDefault = (await create('slowed')).json().settings;
      expect(byDefault.hangTimeoutMs).toBe(10 * defaultSettings.hangTimeoutMs);
      expect(byDefault.recurrenceWindowMs).toBeGreaterThan(defaultSettings.recurrenceWindowMs);
      // Enough history to reach back past the heartbeat's bound at the default interval.
      expect(byDefault.retention * byDefault.intervalMs).toBeGreaterThan(byDefault.hangTimeoutMs);
      expect((await create('given', { hangTimeoutMs: 700 })).json().settings.hangTimeoutMs).toBe(700);
    } finally {
      await other.close();
    }
    // This server's host is whatever this machine is; its VM got the defaults for it.
    const vm = (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}`, headers: asViewer })).json();
    expect(vm.settings.hangTimeoutMs).toBe(describeHost().emulated ? 10 * defaultSettings.hangTimeoutMs : defaultSettings.hangTimeoutMs);
  });
});

describe('recent epochs', () => {
  it("GET /api/vms/:id/epochs answers the VM's newest epochs, oldest first, at most limit", async () => {
    await until(async () => (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}/epochs`, headers: asViewer })).json().epochs.length >= 3, 'three epochs');
    const all = (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}/epochs`, headers: asViewer })).json().epochs;
    expect(all.every((e: { type: string; vmId: string }) => e.type === 'epoch' && e.vmId === vmId)).toBe(true);
    const seqs = all.map((e: { seq: number }) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const two = (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}/epochs?limit=2`, headers: asViewer })).json().epochs;
    expect(two).toHaveLength(2);
    expect(two[1].seq).toBeGreaterThanOrEqual(seqs.at(-1));
  });

  it('refuses a bad limit and an unknown VM', async () => {
    for (const limit of ['0', '-1', 'x', '100000']) {
      const answer = await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}/epochs?limit=${limit}`, headers: asViewer });
      expect(answer.statusCode, limit).toBe(400);
    }
    const missing = await server.app.inject({ method: 'GET', url: '/api/vms/vm-0123456789ab/epochs', headers: asViewer });
    expect(missing.statusCode).toBe(404);
  });
});
