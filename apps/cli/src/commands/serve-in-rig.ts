// `uckpt serve --hypervisor kvm-rig`: the same service, run inside the KVM
// rig (e2e/kvm-rig: Debian's kernel under QEMU's software emulation, with
// kvm_amd on its emulated SVM) for a host without /dev/kvm. The dashboard
// and API are forwarded to the address the user asked for on the host, and
// the state directory is the host's, shared into the rig, so that nothing
// is lost between runs. Ctrl-C stops the service in the rig, then the rig.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { backendUnavailable } from '@uckpt/engine';
import { lockStateDir, prepareStateDir, UnsafeStateError } from '@uckpt/server';
import { UsageError } from '../usage-error.js';
import { repoRoot, rigGuestAddress, rigScript, rigUnavailable } from './kvm-rig.js';
import { serviceFiles } from './rig-preload.js';

const cliPath = fileURLToPath(new URL('../main.js', import.meta.url));

/** A tmpfs of the rig's own (rig.sh mounts a fresh /run). */
const rigSocketsDir = '/run/uckpt-agents';

export type Hypervisor = 'kvm' | 'kvm-rig' | 'auto';

/**
 * `--hypervisor auto`: the KVM rig where this host has no usable KVM (and no
 * Xen) but can emulate one; else the service runs here, where a host without
 * any hypervisor still serves the dashboard, which says what to install.
 */
export function wantsRig(): boolean {
  if (process.env.UCKPT_KVM_RIG === '1') return false;
  return backendUnavailable('kvm') !== null && backendUnavailable('xen') !== null && rigUnavailable() === null;
}

export interface RigServe {
  host: string;
  port: number;
  stateDir: string;
  /** `serve`'s own arguments, without --host and --hypervisor: passed on to the service in the rig. */
  serveArgs: string[];
  log: (message: string) => void;
}

/** Throws a clear error when the port is taken on the host's loopback: QEMU would only fail to forward it. */
async function checkPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new UsageError(`127.0.0.1:${port} is in use (another uckpt serve?): choose another --port`) : error),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/** Runs the service in the rig until it stops; resolves to its exit code. */
export async function serveInRig({ host, port, stateDir, serveArgs, log }: RigServe): Promise<number> {
  // The service in the rig uses the state directory through a share, where
  // locks do not reach the host: checked and held here, for the rig's life.
  let lock: { release(): void };
  try {
    prepareStateDir(stateDir);
    lock = lockStateDir(stateDir);
  } catch (error) {
    if (error instanceof UnsafeStateError) throw new UsageError(error.message);
    throw error;
  }
  try {
    if (!['127.0.0.1', 'localhost'].includes(host)) throw new UsageError('in the KVM rig the service is forwarded to 127.0.0.1 only: drop --host, or run on a host with /dev/kvm');
    if (port === 0) throw new UsageError('in the KVM rig the port is forwarded from the host: give a fixed --port, not 0');
    const why = rigUnavailable();
    if (why) throw new UsageError(`--hypervisor kvm-rig: ${why}`);
    await checkPortFree(port);
    // What the service reads to start, loaded into the rig's RAM at boot.
    const scratch = mkdtempSync(path.join(tmpdir(), 'uckpt-rig-'));
    try {
      const preloadList = path.join(scratch, 'preload.list');
      writeFileSync(preloadList, serviceFiles().join('\n') + '\n');
      return await runRig({ port, stateDir, serveArgs, log, preloadList });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  } finally {
    lock.release();
  }
}

function runRig({ port, stateDir, serveArgs, log, preloadList }: Omit<RigServe, 'host'> & { preloadList: string }): Promise<number> {
  // The agents' sockets on the rig's own tmpfs: Unix sockets do not work on the share.
  const inRig = [process.execPath, cliPath, 'serve', ...serveArgs, '--host', rigGuestAddress, '--port', String(port), '--state-dir', stateDir,
    '--sockets-dir', rigSocketsDir, '--hypervisor', 'kvm'];
  const rigArgs = [rigScript, '--timeout', '0', '--cwd', repoRoot, '--forward', `${port}:${port}`, '--share', stateDir, '--preload-list', preloadList];
  // The tokens the operator set travel into the rig by name: never on a command line.
  for (const name of ['UCKPT_OPERATOR_TOKEN', 'UCKPT_VIEWER_TOKEN']) if (process.env[name]) rigArgs.push('--pass-env', name);
  log(`this host has no /dev/kvm: starting the service inside the KVM rig (KVM under QEMU's software emulation; timings are not representative), forwarded to 127.0.0.1:${port}`);
  const rig = spawn('bash', [...rigArgs, '--', ...inRig], { stdio: ['ignore', 'inherit', 'inherit'] });
  // The rig's script stops the service in the rig, then the rig, on SIGTERM (a
  // Ctrl-C at the terminal reaches it directly as well: once is enough).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => rig.kill('SIGTERM'));
  return new Promise((resolve) => {
    rig.on('error', (error) => {
      log(`the KVM rig could not start: ${error.message}`);
      resolve(1);
    });
    rig.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)));
  });
}
