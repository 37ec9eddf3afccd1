// `uckpt serve --hypervisor kvm-rig`, as `npm start` runs it on a host without
// /dev/kvm: the service and its demo VM inside the KVM rig (KVM under QEMU's
// software emulation), the dashboard and API forwarded to the host's
// loopback, the state directory on the host. Runs wherever QEMU is (on a host
// with /dev/kvm too: the flag chooses the rig explicitly).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliPath, makeStateDir, operatorToken, tokenEnv, until } from './helper.js';

const qemu = '/usr/bin/qemu-system-x86_64';
if (!existsSync(qemu)) console.warn(`\n*** no ${qemu}: the test of serve in the KVM rig is SKIPPED (apt-get install qemu-system-x86) ***\n`);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
    readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
  );
}

describe.runIf(existsSync(qemu))('uckpt serve --demo --hypervisor kvm-rig', () => {
  it('serves the demo VM from the rig on the host, says it is emulated, keeps the state on the host, stops on SIGINT', { timeout: 300_000 }, async () => {
    const stateDir = makeStateDir();
    const port = await freePort();
    const child = spawn(process.execPath, [cliPath, 'serve', '--demo', '--hypervisor', 'kvm-rig', '--port', String(port), '--state-dir', stateDir], {
      env: { ...process.env, ...tokenEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const get = async (url: string) => {
      const answer = await fetch(`http://127.0.0.1:${port}${url}`, { headers: { authorization: `Bearer ${operatorToken}` } });
      return answer.ok ? answer.json() : null;
    };
    try {
      await until(async () => (await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => null))?.ok, `the service in the rig to answer (output so far:\n${output})`, 180_000);
      const host = await get('/api/host');
      expect(host).toMatchObject({ hypervisor: 'kvm', kvmFlavor: 'hardware', emulated: true, lacks: [] });
      type Vm = { name: string; state: string; epochs: number; reason: string | null };
      const demo = await until(async () => (await get('/api/vms'))?.vms.find((vm: Vm) => vm.name === 'demo' && vm.epochs > 5), 'the demo VM to checkpoint', 90_000);
      expect(demo.backend).toBe('kvm');
      // And it keeps running: the heartbeat once took the emulated guest's slow progress for a hang.
      const later = await until(async () => (await get('/api/vms'))?.vms.find((vm: Vm) => vm.name === 'demo' && (vm.epochs > 60 || vm.state !== 'running')), 'sixty epochs', 120_000);
      expect(later.state, later.reason).toBe('running');
      expect(output).toMatch(/starting the service inside the KVM rig/);
      // The tokens reach the rig by name, never on a command line that any local user can read.
      const rigScript = childrenOf(child.pid!).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('rig.sh'));
      expect(rigScript).toBeDefined();
      expect(readFileSync(`/proc/${rigScript}/cmdline`, 'utf8')).not.toContain(operatorToken);
    } finally {
      child.kill('SIGINT');
    }
    // Stopped as on the host: the service closes its database and stops its VM, then the rig ends.
    expect(await exited).toBe(0);
    expect(output).toMatch(/SIGTERM: shutting down and stopping every VM/);
    expect(existsSync(path.join(stateDir, 'uckpt.db'))).toBe(true);
    expect(readFileSync(path.join(stateDir, 'server.log'), 'utf8')).toMatch(/inside the KVM rig \(http:\/\/10\.0\.2\.15:\d+\): reachable only through the host's 127\.0\.0\.1/);
    rmSync(stateDir, { recursive: true, force: true });
  });
});
