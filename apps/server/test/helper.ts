// Builds a real server (service + app) on a fresh state directory per test,
// with known tokens, and tears it down with every agent it started.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppOptions } from '../src/app.js';
import type { CapacityLimits } from '../src/service/capacity.js';
import { Service } from '../src/service/service.js';

/** The `uckpt` command line (apps/cli), as the tests run it. */
export const cliPath = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));

export const operatorToken = 'test-operator-token-0123456789';
export const viewerToken = 'test-viewer-token-0123456789';
export const asOperator = { authorization: `Bearer ${operatorToken}` };
export const asViewer = { authorization: `Bearer ${viewerToken}` };
export const tokenEnv = { UCKPT_OPERATOR_TOKEN: operatorToken, UCKPT_VIEWER_TOKEN: viewerToken };

// The tests that run KVM VMs: one gate for every package (skipped here without /dev/kvm, run in the KVM rig).
import { slowdown } from '../../../packages/native-kvm/test/kvm-gate.js';

export { describeKvm, emulated, hasKvm, itKvm, slowdown } from '../../../packages/native-kvm/test/kvm-gate.js';

export interface TestServer {
  app: FastifyInstance;
  service: Service;
  stateDir: string;
  close(): Promise<void>;
}

export function makeStateDir(): string {
  // Short: agent sockets live under it and Unix socket paths are limited.
  return mkdtempSync(path.join(tmpdir(), 'uckpt-t-'));
}

export async function startServer(options: Partial<AppOptions> & { stateDir?: string; calibrationMs?: number; capacity?: Partial<CapacityLimits> } = {}): Promise<TestServer> {
  const stateDir = options.stateDir ?? makeStateDir();
  const logs: string[] = [];
  const service = await Service.open({
    stateDir,
    env: tokenEnv,
    log: (message) => logs.push(message),
    calibrationMs: options.calibrationMs ?? 300,
    processMetrics: false,
    ...(options.capacity ? { capacity: options.capacity } : {}),
  });
  // Tests inject faults: the one kind of server that allows it, beside the demo and the campaign.
  const app = await buildApp({ service, webRoot: path.join(stateDir, 'no-web'), faultInjection: true, ...options });
  return {
    app,
    service,
    stateDir,
    async close() {
      await app.close();
      await service.close({ stopAgents: true });
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until it is truthy; throws naming `what` after `timeoutMs` (scaled by `slowdown` under emulation). */
export async function until<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs * slowdown;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** True when the process no longer runs (gone, or a zombie nobody has reaped yet). */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}
