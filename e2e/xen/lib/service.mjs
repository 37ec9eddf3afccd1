// `uckpt serve` in the rig's dom0, for the tests that go through the
// service: started on a free port with its own state directory and tokens,
// stopped by the cleanup it registers.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
export const WebSocket = createRequire(path.join(repo, 'apps/server/package.json'))('ws');
export const operator = 'xen-rig-operator-token-0123456789';
export const viewer = 'xen-rig-viewer-token-0123456789';
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for a truthy (sync or async) predicate; the error says what and, with `context`, more. */
export async function until(what, predicate, timeoutMs, context = () => '') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${await context()}`);
    await sleep(100);
  }
}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts the service (`faults`: with fault injection allowed); `cleanups` gets what stops it. */
export async function startServer(cleanups, { faults = false } = {}) {
  const port = await freePort();
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'uckpt-xen-state-'));
  const log = [];
  const args = ['serve', '--port', String(port), '--state-dir', stateDir, ...(faults ? ['--allow-fault-injection'] : [])];
  const child = spawn(process.execPath, [path.join(repo, 'apps/cli/dist/main.js'), ...args], {
    env: { ...process.env, UCKPT_OPERATOR_TOKEN: operator, UCKPT_VIEWER_TOKEN: viewer },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (data) => log.push(String(data)));
  child.stderr.on('data', (data) => log.push(String(data)));
  cleanups.push(async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  });
  const base = `http://127.0.0.1:${port}`;
  // Under QEMU's software emulation, on a shared host, loading the server alone can take minutes.
  await until('the server listening', async () => (await fetch(`${base}/api/health`).catch(() => null))?.ok, 300_000, () => log.join(''));
  return { base, port, log };
}

/** One request as `token` (the operator by default): {status, body}. */
export async function api(base, method, url, body, token = operator) {
  const response = await fetch(base + url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
