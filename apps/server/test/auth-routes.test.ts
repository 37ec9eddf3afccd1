// Deny by default, whatever the spelling: every route the app declares (its
// own route table, not a list written here) is tried over a real socket
// without a token, with a wrong one, and, for mutations, with a viewer's,
// in many spellings of its path: percent-encoded letters, dot segments,
// doubled and trailing slashes, upper case, the absolute form of the request
// line, path parameters and queries. None may reach a handler: each answer
// is a refusal (401/403) or a miss (404, 400 for a malformed URL), the VM
// list and settings do not change, and the WebSocket never upgrades.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOperator, asViewer, operatorToken, startServer, until, viewerToken, type TestServer } from './helper.js';

let server: TestServer;
let port: number;
let vmId: string;

beforeAll(async () => {
  server = await startServer({ rateLimits: { mutationsPerMinute: 1e6, readsPerMinute: 1e6 }, webRoot: '/nonexistent' });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  port = (server.app.server.address() as { port: number }).port;
  const created = await server.app.inject({ method: 'POST', url: '/api/vms', headers: asOperator, payload: { name: 'target', workload: 'graph', backend: 'sim' } });
  expect(created.statusCode, created.body).toBe(201);
  vmId = created.json().id;
  await until(async () => (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}`, headers: asOperator })).json().state === 'running', 'the VM to run');
});

afterAll(async () => server?.close());

interface Answer {
  status: number;
  body: string;
}

/** One request on its own connection, with the request line exactly as given. */
function raw(method: string, target: string, headers: Record<string, string>, body = ''): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    const answer = () => ({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    socket.on('data', (chunk) => {
      data += chunk;
      // An upgraded connection stays open: its status line is the answer.
      if (data.startsWith('HTTP/1.1 101') && data.includes('\r\n\r\n')) {
        socket.destroy();
        resolve(answer());
      }
    });
    socket.on('error', reject);
    socket.on('end', () => resolve(answer()));
    const lines = [`${method} ${target} HTTP/1.1`, 'Host: localhost'];
    if (!headers.Connection) lines.push('Connection: close');
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    if (body) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
    // Not end(): a server may drop a request whose client hung up before the answer.
    socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  });
}

/** The route's path with its parameters filled in. */
function concrete(url: string): string {
  return url.replace(':id', vmId);
}

/** Ways of writing a path that a router, a proxy or a careless check might take for it. */
function spellings(path: string): string[] {
  const segments = path.split('/').filter(Boolean);
  const encodeAll = (text: string) => [...text].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
  const first = segments[0]!;
  const rest = segments.slice(1).join('/');
  return [
    path,
    `${path}/`,
    `${path}?`,
    `${path}?token=${operatorToken}`,
    `${path}#x`,
    `${path};x`,
    `/${encodeAll(first)}/${rest}`,
    `/${first.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}/${rest}`,
    `/${encodeAll(first)}/${[...rest].map((c) => (c === '/' ? '%2F' : c)).join('')}`,
    path.toUpperCase(),
    `/${first.toUpperCase()}/${rest}`,
    `/${path}`,
    path.replace(/\//g, '//'),
    `/./${first}/${rest}`,
    `/${first}/./${rest}`,
    `/x/../${first}/${rest}`,
    `/${first}/%2e%2e/${first}/${rest}`,
    `/${first}%2f${rest}`,
    `http://localhost${path}`,
    `http://localhost:${port}${path}`,
    `HTTP://LOCALHOST${path}`,
    `//localhost${path}`,
    `${path}%00`,
    `${path}%20`,
  ];
}

const bodies: Record<string, string> = {
  'POST /api/vms': JSON.stringify({ name: 'intruder', workload: 'graph', backend: 'sim' }),
  'PATCH /api/vms/:id/config': JSON.stringify({ intervalMs: 999 }),
  'POST /api/vms/:id/rollback': JSON.stringify({ to: 'latest' }),
  'POST /api/vms/:id/faults': JSON.stringify({ kind: 'hang' }),
};

const refusals = new Set([400, 401, 403, 404]);

describe('every route, every spelling', () => {
  it('the route table lists the API, the telemetry socket and the metrics, and only documentation and the dashboard are public', () => {
    const routes = server.app.routeTable;
    const declared = new Set(routes.map((route) => `${route.method} ${route.url}`));
    for (const expected of ['GET /api/vms', 'POST /api/vms', 'DELETE /api/vms/:id', 'PATCH /api/vms/:id/config', 'GET /ws/telemetry', 'GET /metrics', 'GET /api/session']) {
      expect(declared, expected).toContain(expected);
    }
    const open = routes.filter((route) => route.access() === 'public').map((route) => route.url);
    for (const url of open) expect(url).toMatch(/^\/api\/health$|^\/api\/openapi\.json$|^\/docs(\/|$)/);
  });

  it('without a token, with a wrong one, or as a viewer on a mutation, nothing reaches a handler', async () => {
    const tried: string[] = [];
    const routes = server.app.routeTable.filter((route) => route.access() !== 'public' && route.method !== 'HEAD');
    expect(routes.length).toBeGreaterThanOrEqual(15);
    for (const route of routes) {
      const path = concrete(route.url);
      const body = bodies[`${route.method} ${route.url}`] ?? '';
      const credentials: Record<string, string>[] = [{}, { Authorization: 'Bearer wrong-token-wrong-token' }, { Authorization: 'Basic b3BlcmF0b3I6eA==' }, { Authorization: `Bearer ${operatorToken}x` }];
      if (route.access() !== 'viewer') credentials.push({ Authorization: `Bearer ${viewerToken}` });
      for (const headers of credentials) {
        for (const spelling of spellings(path)) {
          const answer = await raw(route.method, spelling, headers, body);
          tried.push(`${route.method} ${spelling} ${answer.status}`);
          expect(refusals.has(answer.status), `${route.method} ${spelling} with ${JSON.stringify(headers)} answered ${answer.status}: ${answer.body.slice(0, 200)}`).toBe(true);
        }
        // The plain spelling is matched, so it is refused for its credential: not a miss.
        const plain = await raw(route.method, path, headers, body);
        expect(plain.status, `${route.method} ${path}`).toBe(headers.Authorization === `Bearer ${viewerToken}` ? 403 : 401);
      }
    }
    expect(tried.length).toBeGreaterThan(1000);
    // Nothing changed: one VM, its interval as created, no fault injected.
    const vms = (await server.app.inject({ method: 'GET', url: '/api/vms', headers: asViewer })).json().vms as { id: string; settings: { intervalMs: number } }[];
    expect(vms.map((vm) => vm.id)).toEqual([vmId]);
    expect(vms[0]!.settings.intervalMs).not.toBe(999);
    expect((await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}/faults`, headers: asViewer })).json().injections).toEqual([]);
  });

  it('the same spellings with the operator token reach the handlers, so the refusals above are for the credential', async () => {
    const answer = await raw("GET", `/%61pi/vms`, { Authorization: `Bearer ${operatorToken}` });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).vms).toHaveLength(1);
    expect((await raw('GET', `http://localhost/api/vms`, { Authorization: `Bearer ${operatorToken}` })).status).toBe(200);
  });

  it('every refused mutation attempt is in the audit log, as anonymous or as the viewer, without its body', async () => {
    const entries = (await server.app.inject({ method: 'GET', url: '/api/audit?limit=1000', headers: asOperator })).json().entries as { role: string; tokenLabel: string; result: string; parameters: unknown }[];
    const anonymous = entries.filter((entry) => entry.role === 'anonymous');
    expect(anonymous.length).toBeGreaterThan(100);
    expect(new Set(anonymous.map((entry) => entry.tokenLabel))).toEqual(new Set(['no token', 'invalid token']));
    const unexpected = anonymous.filter((entry) => entry.parameters !== null || !/^error: (unauthorized|not-found|bad-request)/.test(entry.result));
    expect(unexpected).toEqual([]);
    expect(entries.some((entry) => entry.role === 'viewer' && entry.result.startsWith('error: forbidden'))).toBe(true);
    expect(JSON.stringify(entries)).not.toContain(viewerToken);
  });

  it('the WebSocket does not upgrade without a valid token, in any spelling', async () => {
    const upgrade = { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };
    for (const spelling of spellings('/ws/telemetry')) {
      for (const credential of [{}, { 'Sec-WebSocket-Protocol': 'uckpt.v1, bearer.wrong-token-wrong-token' }, { Authorization: 'Bearer nope-nope-nope-nope' }]) {
        const answer = await raw('GET', spelling, { ...upgrade, ...credential });
        expect(answer.status, `GET ${spelling} ${JSON.stringify(credential)}`).not.toBe(101);
        expect(refusals.has(answer.status), `GET ${spelling}: ${answer.status}`).toBe(true);
      }
    }
    const accepted = await raw('GET', '/ws/telemetry', { ...upgrade, 'Sec-WebSocket-Protocol': `uckpt.v1, bearer.${viewerToken}` });
    expect(accepted.status).toBe(101);
  });

  it('/api/session without a token is 401', async () => {
    const answer = await raw('GET', '/api/session', {});
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body).error.code).toBe('unauthorized');
  });
});
