// Starts and stops the real uckpt server (built by the root set-up) for the
// tests: `uckpt serve --demo` on a free port with a scratch state directory,
// on this host, or in the KVM rig where this host has no /dev/kvm (rig.ts).
import { spawn } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launcherCall, rigGuestAddress, rigLauncher } from './rig.ts';

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

async function waitHealthy(url: string, pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await alive(pid))) throw new Error('uckpt serve exited');
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
  const args = ['serve', ...(opts.demo === false ? [] : ['--demo']), '--port', String(opts.port), '--state-dir', opts.stateDir];
  const env = { UCKPT_OPERATOR_TOKEN: tokens.operator, UCKPT_VIEWER_TOKEN: tokens.viewer, ...opts.env };
  const pid = rigLauncher()
    ? // In the rig the forwarded port arrives on the rig's own address (rig.sh).
      (await launcherCall<{ pid: number }>('POST', '/start', { args: [...args, '--host', rigGuestAddress], env, log: opts.log, stateDir: opts.stateDir })).pid
    : startHere(args, env, opts.log);
  const url = `http://127.0.0.1:${opts.port}`;
  // Everything starts several times slower in the rig, under emulation.
  await waitHealthy(url, pid, rigLauncher() ? 180_000 : 60_000);
  const info: ServerInfo = { pid, port: opts.port, url, stateDir: opts.stateDir, log: opts.log };
  if (opts.record !== false) writeFileSync(stateFile, JSON.stringify(info));
  return info;
}

function startHere(args: string[], env: NodeJS.ProcessEnv, log: string): number {
  const out = openSync(log, 'a');
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', out, out], detached: false });
  child.unref();
  return child.pid!;
}

export function serverInfo(): ServerInfo {
  return JSON.parse(readFileSync(stateFile, 'utf8')) as ServerInfo;
}

async function alive(pid: number): Promise<boolean> {
  if (rigLauncher()) return (await launcherCall<{ alive: boolean }>('GET', `/alive?pid=${pid}`)).alive;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops the server by PID: SIGTERM stops it and its VMs; SIGHUP leaves the VMs running. */
export async function stopServer(pid: number, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<void> {
  const send = (s: NodeJS.Signals) => (rigLauncher() ? launcherCall('POST', '/signal', { pid, signal: s }) : process.kill(pid, s));
  if (!(await alive(pid))) return;
  await send(signal);
  const deadline = Date.now() + timeoutMs * (rigLauncher() ? 3 : 1);
  while ((await alive(pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (await alive(pid)) await send('SIGKILL');
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
