// What a hostile neighbour on the host, or a page in the operator's browser,
// meets: the Host allowlist and WebSocket Origin check, the browser-facing
// headers, rate limits that count refused requests too, fault injection off
// unless the server was started for it, limits on what the service takes on,
// 5xx answers that carry an id the log has, and contracts real tools accept.
// VMs here use the simulated backend (a labelled test double).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Validator } from '@seriousme/openapi-schema-validator';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { serverLogger } from '../src/logging.js';
import { asOperator, asViewer, startServer, until, type TestServer } from './helper.js';

const simVm = (name: string) => ({ name, workload: 'graph', backend: 'sim', memoryMiB: 64 });

async function createVm(server: TestServer, name: string): Promise<string> {
  const created = await server.app.inject({ method: 'POST', url: '/api/vms', headers: asOperator, payload: simVm(name) });
  expect(created.statusCode, created.body).toBe(201);
  return created.json().id;
}

describe('the Host allowlist', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ allowedHosts: ['localhost', '127.0.0.1', '::1', 'uckpt.lan'] });
  });
  afterAll(async () => server?.close());

  it.each(['localhost', 'localhost:8080', '127.0.0.1:8080', '[::1]:8080', 'LOCALHOST.', 'uckpt.lan:443'])('answers Host %s', async (host) => {
    const reply = await server.app.inject({ method: 'GET', url: '/api/vms', headers: { ...asViewer, host } });
    expect(reply.statusCode, reply.body).toBe(200);
  });

  it.each(['attacker.example', 'attacker.example:8080', 'localhost@attacker.example', 'localhost/x', '127.0.0.2', 'localhost:99999'])(
    'refuses Host %j with 421, public routes and valid tokens included, and changes nothing',
    async (host) => {
      for (const request of [
        { method: 'GET' as const, url: '/api/health', headers: { host } },
        { method: 'GET' as const, url: '/api/vms', headers: { ...asOperator, host } },
        { method: 'POST' as const, url: '/api/vms', headers: { ...asOperator, host }, payload: simVm('rebound') },
      ]) {
        const reply = await server.app.inject(request);
        expect(reply.statusCode, `${request.method} ${request.url}`).toBe(421);
        expect(reply.json().error.code).toBe('misdirected');
      }
      const list = await server.app.inject({ method: 'GET', url: '/api/vms', headers: asViewer });
      expect(list.json().vms).toEqual([]);
    },
  );

  it('refuses a WebSocket upgrade from a page of another origin, with a valid token', async () => {
    const protocol = `uckpt.v1, bearer.${'test-viewer-token-0123456789'}`;
    await expect(server.app.injectWS('/ws/telemetry', { headers: { host: 'localhost', origin: 'http://attacker.example', 'sec-websocket-protocol': protocol } })).rejects.toThrow(/403/);
    const socket = await server.app.injectWS('/ws/telemetry', { headers: { host: 'localhost:8080', origin: 'http://localhost:8080', 'sec-websocket-protocol': protocol } });
    socket.terminate();
  });
});

describe('browser-facing headers', () => {
  let server: TestServer;
  let webRoot: string;
  beforeAll(async () => {
    webRoot = mkdtempSync(path.join(tmpdir(), 'uckpt-web-'));
    mkdirSync(path.join(webRoot, 'assets'));
    writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>uckpt</title>');
    server = await startServer({ webRoot });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(webRoot, { recursive: true, force: true });
  });

  it.each([
    ['the dashboard', { method: 'GET', url: '/' }],
    ['a dashboard route', { method: 'GET', url: '/vms/anything' }],
    ['an API answer', { method: 'GET', url: '/api/vms', headers: asViewer }],
    ['a refusal', { method: 'GET', url: '/api/vms' }],
    ['a 404', { method: 'GET', url: '/api/nothing-here', headers: asViewer }],
  ] as const)('are on %s', async (_, request) => {
    const reply = await server.app.inject(request);
    const csp = String(reply.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(reply.headers['x-content-type-options']).toBe('nosniff');
    expect(reply.headers['referrer-policy']).toBe('no-referrer');
    expect(reply.headers['x-frame-options']).toBe('SAMEORIGIN');
  });
});

describe('rate limits', () => {
  it('count requests refused for a missing token or a viewer role, and audit one 429 per caller per minute', async () => {
    const server = await startServer({ rateLimits: { mutationsPerMinute: 3, readsPerMinute: 5 } });
    try {
      const post = (headers: Record<string, string>) => server.app.inject({ method: 'POST', url: '/api/vms', headers, payload: simVm('x') });
      const anonymous: number[] = [];
      for (let i = 0; i < 6; i++) anonymous.push((await post({})).statusCode);
      expect(anonymous).toEqual([401, 401, 401, 429, 429, 429]);
      const viewer: number[] = [];
      for (let i = 0; i < 5; i++) viewer.push((await post(asViewer)).statusCode);
      expect(viewer).toEqual([403, 403, 403, 429, 429]);
      // Reads have their own bucket, and a refused read counts too.
      const reads: number[] = [];
      for (let i = 0; i < 7; i++) reads.push((await server.app.inject({ method: 'GET', url: '/api/vms', headers: i < 5 ? {} : asViewer })).statusCode);
      expect(reads.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(reads.slice(5)).toEqual([200, 200]); // the viewer's reads are its own, not the address's
      // The operator is a caller of its own: not limited by the others' floods.
      expect((await post(asOperator)).statusCode).toBe(201);

      const audit = server.service.store.queryAudit({ limit: 1000 }).reverse();
      const summary = audit.map((row) => `${row.role} ${row.tokenLabel} ${row.result.replace(/^error: (\S+) .*$/, '$1')}`);
      expect(summary, JSON.stringify(audit)).toEqual([
        ...Array(3).fill('anonymous no token unauthorized'),
        'anonymous no token rate-limited',
        ...Array(3).fill('viewer viewer:env forbidden'),
        'viewer viewer:env rate-limited',
        'operator operator:env ok',
      ]);
      // A body refused at the door is never read into the log.
      expect(audit.slice(0, 8).every((row) => row.parameters === null)).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe('fault injection', () => {
  it('is refused with 403 and the reason unless the server was started to allow it; the session says which', async () => {
    const server = await startServer({ faultInjection: false });
    try {
      const vmId = await createVm(server, 'no-faults');
      const refused = await server.app.inject({ method: 'POST', url: `/api/vms/${vmId}/faults`, headers: asOperator, payload: { kind: 'hang' } });
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.message).toMatch(/--allow-fault-injection/);
      const listed = await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}/faults`, headers: asOperator });
      expect(listed.json().injections).toEqual([]);
      expect((await server.app.inject({ method: 'GET', url: '/api/session', headers: asOperator })).json()).toEqual({ role: 'operator', faultInjection: false });
    } finally {
      await server.close();
    }
    const allowing = await startServer({ faultInjection: true });
    try {
      expect((await allowing.app.inject({ method: 'GET', url: '/api/session', headers: asViewer })).json()).toEqual({ role: 'viewer', faultInjection: true });
    } finally {
      await allowing.close();
    }
  });
});

describe('limits on what the service takes on', () => {
  it('refuses the VM past --max-vms with 409, saying so, and starts nothing', async () => {
    const server = await startServer({ capacity: { maxVms: 2 } });
    try {
      await createVm(server, 'one');
      await createVm(server, 'two');
      const refused = await server.app.inject({ method: 'POST', url: '/api/vms', headers: asOperator, payload: simVm('three') });
      expect(refused.statusCode).toBe(409);
      expect(refused.json().error.message).toMatch(/protects 2 VMs, its limit \(--max-vms 2\)/);
      expect((await server.app.inject({ method: 'GET', url: '/api/vms', headers: asViewer })).json().vms).toHaveLength(2);
    } finally {
      await server.close();
    }
  });

  it('refuses a VM past the memory budget with 409 and by how much', async () => {
    // A 64 MiB guest commits 64 MiB of RAM and a 96 MiB store: 160 MiB each.
    const server = await startServer({ capacity: { memoryBudgetMiB: 400 } });
    try {
      await createVm(server, 'one');
      await createVm(server, 'two');
      const refused = await server.app.inject({ method: 'POST', url: '/api/vms', headers: asOperator, payload: simVm('three') });
      expect(refused.statusCode).toBe(409);
      expect(refused.json().error.message).toMatch(/needs 160 MiB \(64 MiB guest RAM \+ 96 MiB checkpoint store\).*: 80 MiB short/);
      expect((await server.app.inject({ method: 'GET', url: '/api/vms', headers: asViewer })).json().vms).toHaveLength(2);
    } finally {
      await server.close();
    }
  });

  it('answers 503 with a hint for a backend this host cannot run', async () => {
    const server = await startServer();
    try {
      const refused = await server.app.inject({ method: 'POST', url: '/api/vms', headers: asOperator, payload: { name: 'dom', workload: 'graph', backend: 'xen', domid: 1 } });
      expect(refused.statusCode, refused.body).toBe(503);
      expect(refused.json().error).toMatchObject({ code: 'backend-unavailable' });
      expect(refused.json().error.message).toMatch(/privcmd/);
    } finally {
      await server.close();
    }
  });
});

describe('server errors', () => {
  it('log the failure under the request id the answer carries, and tell the client nothing else', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const server = await startServer({ logger: pino({ level: 'info' }, sink) });
    try {
      const vmId = await createVm(server, 'failing');
      vi.spyOn(server.service.supervisor, 'request').mockRejectedValueOnce(new Error('the secret inside story'));
      const reply = await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}/checkpoints`, headers: asViewer });
      expect(reply.statusCode).toBe(500);
      const { error } = reply.json();
      expect(error.code).toBe('internal');
      expect(error.message).not.toContain('secret');
      expect(error.requestId).toMatch(/^[0-9a-f-]{36}$/);
      const logged = await until(() => lines.find((line) => line.reqId === error.requestId && line.level === 50), 'the failure in the log');
      expect(logged).toMatchObject({ msg: 'request failed', status: 500, err: { message: 'the secret inside story' } });
    } finally {
      await server.close();
    }
  });

  it('are logged without credentials', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'uckpt-log-'));
    try {
      const logger = serverLogger(dir, new Writable({ write: (_chunk, _encoding, done) => done() }));
      logger.error({ req: { headers: { authorization: 'Bearer very-secret-token', 'sec-websocket-protocol': 'uckpt.v1, bearer.very-secret-token' } } }, 'failed');
      const text = await until(() => {
        const written = existsSync(path.join(dir, 'server.log')) ? readFileSync(path.join(dir, 'server.log'), 'utf8') : '';
        return written.includes('failed') && written;
      }, 'the log line');
      expect(text).not.toContain('very-secret-token');
      expect(text).toContain('[redacted]');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('contracts', () => {
  it('the OpenAPI document passes an OpenAPI validator', async () => {
    const server = await startServer();
    try {
      const document = (await server.app.inject({ method: 'GET', url: '/api/openapi.json' })).json();
      const result = await new Validator().validate(document);
      expect(result.errors ?? []).toEqual([]);
      expect(result.valid).toBe(true);
      expect(document.openapi).toMatch(/^3\.1\./);
    } finally {
      await server.close();
    }
  });
});
