// The browser tests on a host without /dev/kvm: the browser runs here, the
// servers and their VMs in the KVM rig (e2e/kvm-rig), started and signalled
// through rig-launcher.mjs. One rig serves the whole run: a server stopped
// with SIGHUP leaves its VMs' agents running there for the next one.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { rigGuestAddress, rigUnavailable as rigMissing } from '../../apps/cli/dist/commands/kvm-rig.js';
import { serviceFiles } from '../../apps/cli/dist/commands/rig-preload.js';

export { rigGuestAddress };

/** Where the launcher in the rig answers, as the test processes find it. */
interface Launcher {
  url: string;
  token: string;
}

const launcherVar = 'UCKPT_E2E_RIG_LAUNCHER';

/** The launcher of this run's rig; null when the servers run on this host. */
export function rigLauncher(): Launcher | null {
  const value = process.env[launcherVar];
  return value ? (JSON.parse(value) as Launcher) : null;
}

export function hasKvm(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why the KVM rig cannot run here; null when it can. */
export function rigUnavailable(repoRoot: string): string | null {
  const missing = rigMissing();
  if (missing) return missing;
  if (!existsSync(path.join(repoRoot, 'e2e/kvm-rig/.cache/initramfs.cpio.gz'))) return 'the KVM rig is not built (bash scripts/setup.sh builds it)';
  return null;
}

export async function launcherCall<T>(method: 'GET' | 'POST', urlPath: string, body?: unknown): Promise<T> {
  const launcher = rigLauncher();
  if (!launcher) throw new Error('no KVM rig in this run');
  const response = await fetch(`${launcher.url}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${launcher.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`rig launcher: ${method} ${urlPath}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

/**
 * Boots the rig with the launcher in it, forwarding its control port and
 * `serverPort` from this host's loopback; resolves once the launcher answers
 * (a minute or so: node starts slowly under emulation). Sets the variable
 * that tells the test processes where the launcher is.
 */
export async function bootRig(opts: { repoRoot: string; controlPort: number; serverPort: number; share: string; log: string }): Promise<ChildProcess> {
  const token = randomBytes(24).toString('hex');
  const out = openSync(opts.log, 'a');
  // What the servers read to start, loaded into the rig's RAM at boot (as `uckpt serve` does).
  const preloadList = path.join(opts.share, 'rig-preload.list');
  writeFileSync(preloadList, [...serviceFiles(), path.join(opts.repoRoot, 'e2e/lib')].join('\n') + '\n');
  const rig = spawn(
    'bash',
    [
      path.join(opts.repoRoot, 'e2e/kvm-rig/rig.sh'),
      '--timeout', '0',
      '--cwd', opts.repoRoot,
      '--forward', `${opts.controlPort}:${opts.controlPort}`,
      '--forward', `${opts.serverPort}:${opts.serverPort}`,
      '--share', opts.share,
      '--preload-list', preloadList,
      '--pass-env', 'UCKPT_E2E_LAUNCHER_TOKEN',
      '--', 'node', 'e2e/lib/rig-launcher.mjs', String(opts.controlPort),
    ],
    { env: { ...process.env, UCKPT_E2E_LAUNCHER_TOKEN: token }, stdio: ['ignore', out, out] },
  );
  process.env[launcherVar] = JSON.stringify({ url: `http://127.0.0.1:${opts.controlPort}`, token } satisfies Launcher);
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (rig.exitCode !== null) throw new Error(`the KVM rig exited with code ${rig.exitCode} (see ${opts.log})`);
    if (Date.now() > deadline) throw new Error(`the KVM rig's launcher did not answer within 180 s (see ${opts.log})`);
    try {
      await launcherCall('GET', '/health');
      return rig;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** Stops the rig: its script asks the launcher to stop, which stops its servers and their VMs. */
export async function stopRig(rig: ChildProcess): Promise<void> {
  if (rig.exitCode !== null) return;
  const exited = new Promise((resolve) => rig.once('exit', resolve));
  rig.kill('SIGTERM');
  await exited;
}
