// The command line as a user meets it: the built `uckpt` program, its
// output, and its refusals of bad flags.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cliPath, itKvm } from './helper.js';

const cli = cliPath;
async function uckpt(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('uckpt workloads', () => {
  it('lists the workloads, as text and as JSON', async () => {
    const json = await uckpt('workloads', '--json');
    expect(json.code).toBe(0);
    const names = (JSON.parse(json.stdout) as { name: string }[]).map((w) => w.name);
    expect(names).toEqual(['hashtable', 'sort', 'graph', 'compress', 'dp', 'dirtier', 'dirtier-phases']);
    const text = await uckpt('workloads');
    for (const name of names) expect(text.stdout).toMatch(new RegExp(`^${name} `, 'm'));
  });
});

describe('uckpt run', () => {
  itKvm('prints one JSON object whose checksum matches the host program', async () => {
    const [vm, host] = await Promise.all([
      uckpt('run', '--workload', 'compress', '--size', '4', '--seed', '11', '--json'),
      uckpt('run', '--workload', 'compress', '--size', '4', '--seed', '11', '--on', 'host', '--json'),
    ]);
    expect(vm.code).toBe(0);
    const a = JSON.parse(vm.stdout);
    const b = JSON.parse(host.stdout);
    expect(a).toMatchObject({ workload: 'compress', on: 'kvm', seed: 11, memoryMiB: 1024 });
    expect(b).toMatchObject({ workload: 'compress', on: 'host' });
    expect(a.checksum).toMatch(/^[0-9a-f]{16}$/);
    expect(a.checksum).toBe(b.checksum);
    expect(a.runtimeMs).toBeGreaterThan(0);
  });

  itKvm('prints checksum, runtime and progress rate for people', async () => {
    const r = await uckpt('run', '--workload', 'dp', '--size', '20', '--memory-mib', '64', '--vcpus', '2');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^dp on kvm: checksum [0-9a-f]{16}, \d+\.\d\d s, \d+\.\d progress units\/s\n$/);
  });

  itKvm('checkpointed with rollbacks, the checksum stays the unprotected one', async () => {
    const args = ['--workload', 'sort', '--size', '2', '--seed', '4', '--json'];
    const [protectedRun, notAhead, host] = await Promise.all([
      uckpt('run', ...args, '--mode', 'stop-and-copy', '--interval-ms', '10', '--retention', '4', '--rollbacks', '10'),
      uckpt('run', ...args, '--mode', 'stop-and-copy', '--interval-ms', '10', '--rollbacks', '10', '--no-precopy'),
      uckpt('run', ...args, '--on', 'host'),
    ]);
    const r = JSON.parse(protectedRun.stdout);
    expect(r).toMatchObject({ mode: 'stop-and-copy', intervalMs: 10, retention: 4, rollbacks: 10, precopy: true });
    const n = JSON.parse(notAhead.stdout);
    expect(n).toMatchObject({ precopy: false, pagesPrecopiedPerEpoch: 0, rollbacks: 10 });
    expect(n.checksum).toBe(JSON.parse(host.stdout).checksum);
    for (const key of ['epochs', 'dirtyPagesPerEpoch', 'dirtyPagesP99', 'storeBytesMax']) expect(r[key]).toBeGreaterThan(0);
    for (const key of ['pauseUs', 'usualPauseUs', 'rollbackUs']) expect(r[key].p99).toBeGreaterThanOrEqual(r[key].p50);
    expect(r.usualPauseUs.p99).toBeLessThanOrEqual(r.pauseUs.p99); // a subset of the pauses
    expect(r.checksum).toBe(JSON.parse(host.stdout).checksum);
  });

  itKvm('--mode cow: copy-on-write with rollbacks keeps the checksum, and reports its faults', async () => {
    const args = ['--workload', 'sort', '--size', '2', '--seed', '4', '--json'];
    const [protectedRun, host] = await Promise.all([
      uckpt('run', ...args, '--mode', 'cow', '--interval-ms', '10', '--predictor', 'frontier', '--rollbacks', '10'),
      uckpt('run', ...args, '--on', 'host'),
    ]);
    const r = JSON.parse(protectedRun.stdout);
    expect(r).toMatchObject({ mode: 'cow', intervalMs: 10, predictor: 'frontier', rollbacks: 10, warnings: [] });
    expect(r.faultsPerEpoch).toBeGreaterThan(0);
    expect(r.costs.cowFaultNsCalibrated).toBeGreaterThan(0);
    expect(r.checksum).toBe(JSON.parse(host.stdout).checksum);
  });

  itKvm('a guest that cannot run says why and exits 1', async () => {
    const r = await uckpt('run', '--workload', 'hashtable', '--memory-mib', '64');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the guest did not finish: the guest refused its parameters: not enough guest memory/);
  });

  const refusals: [string[], RegExp][] = [
    [[], /--workload NAME is required/],
    [['--workload', 'nosuch'], /unknown workload "nosuch"; the workloads are: hashtable, sort/],
    [['--workload', 'dp', '--on', 'xen'], /--on must be one of kvm, host \(got "xen"\)/],
    [['--workload', 'dp', '--memory-mib', '8'], /--memory-mib must be an integer from 16 to 16384 \(got "8"\)/],
    [['--workload', 'dp', '--memory-mib', '1e3'], /--memory-mib must be an integer/],
    [['--workload', 'dp', '--vcpus', '0'], /--vcpus must be an integer from 1 to 64/],
    [['--workload', 'dp', '--seed=-1'], /--seed must be an integer from 0/],
    [['--workload', 'dp', '--seed', '-1'], /Option '--seed' argument is ambiguous/],
    [['--workload', 'dp', '--size', 'big'], /--size must be an integer from 1/],
    [['--workload', 'dp', '--param', '0'], /--param must be an integer from 1/],
    [['--workload', 'dp', '--on', 'host', '--vcpus', '2'], /--memory-mib, --vcpus, .* apply only to --on kvm/],
    [['--workload', 'dp', '--interval-ms', '10'], /--interval-ms, .* need --mode stop-and-copy or --mode cow/],
    [['--workload', 'dp', '--no-precopy'], /--no-precopy need --mode stop-and-copy or --mode cow/],
    [['--workload', 'dp', '--mode', 'fast'], /--mode must be one of off, stop-and-copy, cow \(got "fast"\)/],
    [['--workload', 'dp', '--mode', 'stop-and-copy', '--interval-ms', '0'], /--interval-ms must be an integer from 1 to 10000/],
    [['--workload', 'dp', '--mode', 'stop-and-copy', '--retention', '2000'], /--retention must be an integer from 1 to 1024/],
    [['--workload', 'dp', '--mode', 'stop-and-copy', '--predictor', 'magic'], /--predictor must be one of off, history, frontier, cost/],
    [['--workload', 'dp', '--dirty-tracking', 'log'], /--dirty-tracking must be one of bitmap, ring/],
    [
      ['--workload', 'dp', '--mode', 'stop-and-copy', '--predictor', 'cost', '--dirty-tracking', 'ring'],
      /--predictor needs --dirty-tracking bitmap/,
    ],
    [['--workload', 'dp', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['--workload'], /--workload/],
  ];
  for (const [args, message] of refusals) {
    it(`refuses ${JSON.stringify(args)} with exit code 2`, async () => {
      const r = await uckpt('run', ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    });
  }

  it('refuses an unknown command and shows the usage', async () => {
    const r = await uckpt('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"[\s\S]*usage: uckpt <command>/);
  });
});

describe('uckpt serve --hypervisor', () => {
  it('refuses an unknown choice, and the KVM rig on an address other than loopback, before starting anything', async () => {
    const unknown = await uckpt('serve', '--hypervisor', 'vmware', '--port', '0');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--hypervisor must be one of kvm, kvm-rig, auto \(got "vmware"\)/);
    const exposed = await uckpt('serve', '--hypervisor', 'kvm-rig', '--host', '0.0.0.0', '--port', '0');
    expect(exposed.code).toBe(2);
    expect(exposed.stderr).toMatch(/forwarded to 127\.0\.0\.1 only/);
  });
});
