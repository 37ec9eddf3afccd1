// Starts and stops the real uckpt server (built by the root set-up) for the
// tests: `uckpt serve --demo` on a free port with a scratch state directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const cliPath = path.join(repoRoot, 'apps/cli/dist/main.js');
export const artifactsDir = fileURLToPath(new URL('../artifacts', import.meta.url));
const stateFile = path.join(artifactsDir, 'server.json');

export const tokens = {
  operator: 'e2e-operator-token-0123456789',
  viewer: 'e2e-viewer-token-0123456789',
};

export interface ServerInfo {
  pid: number;
  port: number;
  url: string;
  stateDir: string;
  log: string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`uckpt serve exited with code ${child.exitCode}`);
    try {
      const r = await fetch(`${url}/api/health`);
      if (r.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`uckpt serve did not answer ${url}/api/health within ${timeoutMs} ms`);
}

/** Starts `uckpt serve --demo` and waits until it answers; records its PID for the teardown. */
export async function startServer(opts: { port: number; stateDir: string; log: string; demo?: boolean; record?: boolean; env?: NodeJS.ProcessEnv }): Promise<ServerInfo> {
  const out = openSync(opts.log, 'a');
  const args = [cliPath, 'serve', ...(opts.demo === false ? [] : ['--demo']), '--port', String(opts.port), '--state-dir', opts.stateDir];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, UCKPT_OPERATOR_TOKEN: tokens.operator, UCKPT_VIEWER_TOKEN: tokens.viewer, ...opts.env },
    stdio: ['ignore', out, out],
    detached: false,
  });
  child.unref();
  const url = `http://127.0.0.1:${opts.port}`;
  await waitHealthy(url, child, 60_000);
  const info: ServerInfo = { pid: child.pid!, port: opts.port, url, stateDir: opts.stateDir, log: opts.log };
  if (opts.record !== false) writeFileSync(stateFile, JSON.stringify(info));
  return info;
}

export function serverInfo(): ServerInfo {
  return JSON.parse(readFileSync(stateFile, 'utf8')) as ServerInfo;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops the server by PID: SIGTERM stops it and its VMs; SIGHUP leaves the VMs running. */
export async function stopServer(pid: number, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, signal);
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

/** A REST call as the operator, for set-up and checks the UI does not make. */
export async function api<T>(method: string, urlPath: string, body?: unknown, token = tokens.operator, base = serverInfo().url): Promise<T> {
  const init: RequestInit = { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await fetch(`${base}${urlPath}`, init);
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${urlPath}: ${r.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}
