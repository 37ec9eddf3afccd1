// The command line as a user meets it: the built `uckpt` program, its
// output, and its refusals of bad flags.
import { existsSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeStateDir, operatorToken, startServer, uckpt, uckptWithEnv } from './helper.js';

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
    const stateDir = makeStateDir();
    try {
      const unknown = await uckpt('serve', '--hypervisor', 'vmware', '--port', '0', '--state-dir', stateDir);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/--hypervisor must be one of kvm, kvm-rig, auto \(got "vmware"\)/);
      const exposed = await uckpt('serve', '--hypervisor', 'kvm-rig', '--host', '0.0.0.0', '--port', '0', '--state-dir', stateDir);
      expect(exposed.code).toBe(2);
      expect(exposed.stderr).toMatch(/forwarded to 127\.0\.0\.1 only/);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('uckpt domains and uckpt protect', () => {
  const refusals: [string[], RegExp][] = [
    [['protect'], /takes one domain: its name or domid/],
    [['protect', 'web1', 'web2'], /takes one domain/],
    [['protect', 'web1;reboot'], /must be a name or domid of letters, digits/],
    [['protect', 'web1', '--interval-ms', '0'], /--interval-ms must be an integer from 1 to 10000/],
    [['domains', '--server', 'ftp://example'], /--server must be a URL like http:\/\/127\.0\.0\.1:8080/],
  ];
  for (const [args, message] of refusals) {
    it(`refuses ${JSON.stringify(args)} with exit code 2, asking nothing of a server`, async () => {
      const r = await uckpt(...args, '--token-file', '/nonexistent');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    });
  }

  it.skipIf(existsSync('/proc/xen/privcmd'))('on a host without Xen, both say what the server says is missing', async () => {
    const server = await startServer();
    try {
      const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
      const env = { UCKPT_TOKEN: operatorToken };
      const domains = await uckptWithEnv(env, 'domains', '--server', url);
      expect(domains.code).toBe(1);
      expect(domains.stderr).toMatch(/uckpt domains: the server refused: .*no Xen hypervisor \(privcmd\) found.*\(backend-unavailable\)/);
      const protect = await uckptWithEnv(env, 'protect', 'web1', '--server', url);
      expect(protect.code).toBe(1);
      expect(protect.stderr).toMatch(/uckpt protect: the server refused: .*no Xen hypervisor \(privcmd\) found/);
    } finally {
      await server.close();
    }
  });
});
