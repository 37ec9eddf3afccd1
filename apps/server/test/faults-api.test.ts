// Fault injection, detection and recovery through the REST API, on the
// simulated backend (a labelled test double; faults-kvm.test.ts drives real
// KVM VMs): validation and roles, the injection's tracked outcome, every
// recovery step in the event history and the audit log, recovery switched
// off per VM, and the `uckpt inject` command against a listening server.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, asOperator, asViewer, operatorToken, startServer, until, type TestServer } from './helper.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ rateLimits: { mutationsPerMinute: 10_000 } });
});
afterAll(async () => server?.close());

const detectionSettings = { intervalMs: 50, retention: 40, hangTimeoutMs: 400, recurrenceWindowMs: 1500, selfCheckLatencyMs: 400 };

async function createSimVm(name: string, settings: Record<string, unknown> = {}, minCheckpoints = 20): Promise<string> {
  const created = await server.app.inject({
    method: 'POST',
    url: '/api/vms',
    headers: asOperator,
    payload: { name, workload: 'graph', backend: 'sim', settings: { ...detectionSettings, ...settings } },
  });
  expect(created.statusCode, created.body).toBe(201);
  const id = created.json().id as string;
  await until(async () => {
    const [vm, checkpoints] = await Promise.all([get(`/api/vms/${id}`), get(`/api/vms/${id}/checkpoints`)]);
    return vm.state === 'running' && (settings.enabled === false || checkpoints.checkpoints.length >= minCheckpoints);
  }, 'the VM to run with checkpoints');
  return id;
}

async function get(url: string) {
  const answer = await server.app.inject({ method: 'GET', url, headers: asOperator });
  expect(answer.statusCode, answer.body).toBe(200);
  return answer.json();
}

const inject = (id: string, payload: unknown, headers = asOperator) => server.app.inject({ method: 'POST', url: `/api/vms/${id}/faults`, headers, payload: payload as object });

async function events(id: string, types: string) {
  return (await get(`/api/vms/${id}/events?types=${types}&limit=1000`)).events.map((row: { event: Record<string, unknown> }) => row.event).reverse();
}

describe('POST /api/vms/:id/faults validation', () => {
  let id: string;
  beforeAll(async () => {
    id = await createSimVm('validate');
  });

  it('refuses bad input with 400 and injects nothing', async () => {
    for (const payload of [
      {},
      { kind: 'melt' },
      { kind: 'hang', extra: 1 },
      { kind: 'bit-flip', bits: 0 },
      { kind: 'bit-flip', bits: 65 },
      { kind: 'bit-flip', region: 'heap' },
      { kind: 'register', register: 'xmm0' },
      { kind: 'hang', bits: 2 },
      { kind: 'crash', region: 'data' },
      { kind: 'checkpoint-page', seq: 9_999_999 },
    ]) {
      const answer = await inject(id, payload);
      expect(answer.statusCode, JSON.stringify(payload)).toBe(400);
      expect(answer.json().error.code).toBe('invalid-argument');
    }
    expect((await get(`/api/vms/${id}/faults`)).injections).toEqual([]);
    expect((await get(`/api/vms/${id}`)).state).toBe('running');
  });

  it('names the field that does not apply', async () => {
    const answer = await inject(id, { kind: 'hang', bits: 2 });
    expect(answer.json().error.message).toMatch(/bits does not apply to a hang fault/);
  });

  it('a viewer may list injections but not inject (403, audited)', async () => {
    expect((await inject(id, { kind: 'hang' }, asViewer)).statusCode).toBe(403);
    const list = await server.app.inject({ method: 'GET', url: `/api/vms/${id}/faults`, headers: asViewer });
    expect(list.statusCode).toBe(200);
    const audit = await get(`/api/audit?action=vm.fault&vmId=${id}`);
    expect(audit.entries.some((e: { role: string; result: string }) => e.role === 'viewer' && e.result.startsWith('error: forbidden'))).toBe(true);
  });

  it('an unknown VM is 404', async () => {
    expect((await inject('vm-000000000000', { kind: 'hang' })).statusCode).toBe(404);
  });

  it('the OpenAPI document describes the route', async () => {
    const doc = await get('/api/openapi.json');
    expect(doc.paths['/api/vms/{id}/faults'].post.requestBody.content['application/json'].schema.properties.kind).toBeDefined();
  });
});

describe('detection and recovery through the API', () => {
  it('a hang: alert, recovery rollback, outcome, all in the history, the audit log and the injection record', async () => {
    const id = await createSimVm('hang');
    const answer = await inject(id, { kind: 'hang' });
    expect(answer.statusCode, answer.body).toBe(201);
    const injection = answer.json();
    expect(injection).toMatchObject({ id: expect.stringMatching(/^inj-/), vmId: id, status: 'pending', effect: { description: expect.stringMatching(/stopped making progress/) } });

    const record = await until(async () => {
      const [found] = (await get(`/api/vms/${id}/faults`)).injections;
      return found.recovery ? found : null;
    }, 'the injection to be settled');
    expect(record).toMatchObject({ status: 'detected', detection: { detector: 'heartbeat' }, recovery: { outcome: 'recovered', rollbacks: 1 } });
    expect(record.detection.latencyMs).toBeGreaterThanOrEqual(400);

    const history = await events(id, 'alert,rollback,recovery');
    const alert = history.find((e: { type: string }) => e.type === 'alert');
    expect(alert).toMatchObject({ detector: 'heartbeat', action: 'rollback', injectionId: injection.id, latencyBoundMs: expect.any(Number), evidence: { hangTimeoutMs: 400 } });
    expect(history.find((e: { type: string }) => e.type === 'rollback')).toMatchObject({ cause: 'recovery', ok: true });
    expect(history.find((e: { type: string }) => e.type === 'recovery')).toMatchObject({ outcome: 'recovered', alertId: alert.alertId });

    const audit = (await get(`/api/audit?vmId=${id}`)).entries as { role: string; action: string; result: string }[];
    const system = audit.filter((e) => e.role === 'system').map((e) => e.action);
    expect(system).toEqual(expect.arrayContaining(['recovery.alert', 'recovery.rollback', 'recovery.outcome', 'fault.outcome']));
    expect(audit.find((e) => e.action === 'vm.fault')).toMatchObject({ role: 'operator', result: 'ok' });
    expect((await get(`/api/vms/${id}`)).state).toBe('running');
  });

  it('a corrupted checkpoint page: the recovery skips it for an older one; the checkpoint lists as not verified', async () => {
    const id = await createSimVm('integrity', { intervalMs: 10_000, crashLatencyMs: 0 }, 0);
    for (let i = 0; i < 4; i++) await server.app.inject({ method: 'POST', url: `/api/vms/${id}/checkpoints`, headers: asOperator });
    const { checkpoints } = await get(`/api/vms/${id}/checkpoints`);
    const newest = checkpoints.at(-1).seq;
    expect((await inject(id, { kind: 'checkpoint-page', seq: newest, page: 5 })).statusCode).toBe(201);
    // Nothing reads a stored page until a rollback needs it.
    expect((await get(`/api/vms/${id}/checkpoints`)).checkpoints.at(-1).verified).toBe(true);
    const refused = await server.app.inject({ method: 'POST', url: `/api/vms/${id}/rollback`, headers: asOperator, payload: { to: newest } });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.message).toMatch(/checksum mismatch/);
    const listed = (await get(`/api/vms/${id}/checkpoints`)).checkpoints.find((c: { seq: number }) => c.seq === newest);
    expect(listed.verified).toBe(false);
    const alert = await until(async () => (await events(id, 'alert')).find((e: { detector: string }) => e.detector === 'checkpoint-integrity'), 'the integrity alert');
    expect(alert).toMatchObject({ action: 'none', evidence: { seq: newest } });
    // "safe" never takes it.
    const safe = await server.app.inject({ method: 'POST', url: `/api/vms/${id}/rollback`, headers: asOperator, payload: { to: 'safe' } });
    expect(safe.statusCode, safe.body).toBe(200);
    expect(safe.json().seq).toBeLessThan(newest);
  });

  it('recovery switched off by PATCH: a crash is alerted, nothing is rolled back', async () => {
    const id = await createSimVm('alert-only');
    const patched = await server.app.inject({ method: 'PATCH', url: `/api/vms/${id}/config`, headers: asOperator, payload: { autoRecover: false } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().settings).toMatchObject({ autoRecover: false, hangTimeoutMs: 400 });
    expect(server.service.store.getVm(id)?.settings.autoRecover).toBe(false);
    expect((await inject(id, { kind: 'crash' })).statusCode).toBe(201);
    const alert = await until(async () => (await events(id, 'alert'))[0], 'the alert');
    expect(alert).toMatchObject({ detector: 'crash', action: 'none', actionReason: expect.stringMatching(/recovery is off/) });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await events(id, 'rollback')).toEqual([]);
    expect((await get(`/api/vms/${id}`)).state).toBe('crashed');
    expect((await get(`/api/vms/${id}/faults`)).injections[0]).toMatchObject({ status: 'detected', recovery: { outcome: 'alert-only' } });
  });

  it('detection settings are validated: a recurrence window the detectors cannot fill is refused and changes nothing', async () => {
    const id = await createSimVm('settings', { enabled: false });
    for (const payload of [{ hangTimeoutMs: 5 }, { recurrenceWindowMs: 600 }, { autoRecover: 'yes' }, { selfCheckLatencyMs: -1 }, { detectors: [] }]) {
      const answer = await server.app.inject({ method: 'PATCH', url: `/api/vms/${id}/config`, headers: asOperator, payload });
      expect(answer.statusCode, JSON.stringify(payload)).toBe(400);
    }
    const refused = await server.app.inject({ method: 'PATCH', url: `/api/vms/${id}/config`, headers: asOperator, payload: { recurrenceWindowMs: 600 } });
    expect(refused.json().error.message).toMatch(/recurrenceWindowMs \(600\) must exceed/);
    expect((await get(`/api/vms/${id}`)).settings).toMatchObject({ recurrenceWindowMs: 1500, hangTimeoutMs: 400 });
  });
});

describe('uckpt inject', () => {
  const cli = cliPath;
  let url: string;
  let id: string;
  beforeAll(async () => {
    url = await server.app.listen({ host: '127.0.0.1', port: 0 });
    id = await createSimVm('cli');
  });

  async function uckpt(args: string[], env: Record<string, string> = {}) {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, 'inject', ...args], { env: { ...process.env, UCKPT_TOKEN: '', ...env } });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  it('injects with a token file and prints the injection', async () => {
    const tokenFile = path.join(server.stateDir, 'cli.token');
    writeFileSync(tokenFile, `${operatorToken}\n`, { mode: 0o600 });
    const result = await uckpt(['--vm', id, '--kind', 'bit-flip', '--bits', '3', '--server', url, '--token-file', tokenFile, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ id: expect.stringMatching(/^inj-/), request: { kind: 'bit-flip', bits: 3 } });
  });

  it('takes UCKPT_TOKEN, and reads STATE_DIR/operator.token by default', async () => {
    const viaEnv = await uckpt(['--vm', id, '--kind', 'register', '--server', url], { UCKPT_TOKEN: operatorToken });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(viaEnv.stdout).toMatch(/^inj-[0-9a-f]+: flipped 1 bit\(s\) of rax/);
    writeFileSync(path.join(server.stateDir, 'operator.token'), operatorToken, { mode: 0o600 });
    const viaStateDir = await uckpt(['--vm', id, '--kind', 'hang', '--server', url, '--state-dir', server.stateDir]);
    expect(viaStateDir.code, viaStateDir.stderr).toBe(0);
  });

  it('bad flags exit 2 naming the problem; a refusal by the server exits non-zero with its message', async () => {
    const usage = [
      [['--kind', 'hang'], /--vm ID is required/],
      [['--vm', id], /--kind is required/],
      [['--vm', id, '--kind', 'melt'], /--kind must be one of bit-flip/],
      [['--vm', id, '--kind', 'bit-flip', '--bits', 'many'], /--bits must be an integer from 1 to 64/],
      [['--vm', id, '--kind', 'hang', '--token-file', '/nonexistent/token', '--server', url], /cannot read the token from \/nonexistent\/token/],
    ] as const;
    for (const [args, message] of usage) {
      const result = await uckpt([...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    const wrongToken = await uckpt(['--vm', id, '--kind', 'hang', '--server', url], { UCKPT_TOKEN: 'wrong-token-0123456789' });
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.stderr).toMatch(/the server refused: .*\(unauthorized\)/);
    const badField = await uckpt(['--vm', id, '--kind', 'hang', '--bits', '2', '--server', url], { UCKPT_TOKEN: operatorToken });
    expect(badField.code).toBe(2);
    expect(badField.stderr).toMatch(/bits does not apply to a hang fault/);
    const noServer = await uckpt(['--vm', id, '--kind', 'hang', '--server', 'http://127.0.0.1:9'], { UCKPT_TOKEN: operatorToken });
    expect(noServer.code).toBe(1);
    expect(noServer.stderr).toMatch(/cannot reach the server at http:\/\/127.0.0.1:9/);
  });
});
