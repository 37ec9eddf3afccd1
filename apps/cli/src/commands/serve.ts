// `uckpt serve`: the service. It listens on loopback unless told otherwise,
// re-attaches to the agents of the VMs it already protects, and with --demo
// makes sure a protected demo VM runs so that a first user sees life.
//
// SIGINT/SIGTERM stop the service and its VMs cleanly. SIGHUP stops only the
// server and leaves the VMs running (for an upgrade); the next start
// re-attaches to them, as it does after a crash.
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultSettingsFor, defaultSpec, describeHost } from '@uckpt/engine';
import { allowedHostsFor, buildApp, defaultCapacity, defaultRateLimits, serverLogger, Service, UnsafeStateError } from '@uckpt/server';
import { choiceOption, integerOption } from '../options.js';
import { UsageError } from '../usage-error.js';
import { rigGuestAddress } from './kvm-rig.js';
import { serveInRig, wantsRig, type Hypervisor } from './serve-in-rig.js';

const demoVmName = 'demo';

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.UCKPT_STATE_DIR) return env.UCKPT_STATE_DIR;
  return path.join(env.XDG_STATE_HOME ?? path.join(homedir(), '.local', 'state'), 'uckpt');
}

export async function serveCommand(args: string[]): Promise<number> {
  const { values, tokens } = parseArgs({
    args,
    strict: true,
    tokens: true,
    options: {
      hypervisor: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'state-dir': { type: 'string' },
      'sockets-dir': { type: 'string' },
      demo: { type: 'boolean' },
      'calibration-ms': { type: 'string' },
      'allow-host': { type: 'string', multiple: true },
      'allow-fault-injection': { type: 'boolean' },
      'max-vms': { type: 'string' },
      'memory-budget-mib': { type: 'string' },
      'rate-limit-mutations-per-minute': { type: 'string' },
      'rate-limit-reads-per-minute': { type: 'string' },
    },
  });
  const host = values.host ?? '127.0.0.1';
  if (!/^[0-9a-fA-F.:]+$|^localhost$/.test(host)) throw new UsageError(`--host must be an IP address or localhost (got "${host}")`);
  const port = integerOption('port', values.port, { min: 0, max: 65535, fallback: 8080 });
  const calibrationMs = integerOption('calibration-ms', values['calibration-ms'], { min: 0, max: 60_000, fallback: 2000 });
  const maxVms = integerOption('max-vms', values['max-vms'], { min: 1, max: 1024, fallback: defaultCapacity.maxVms });
  const memoryBudgetMiB = values['memory-budget-mib'] === undefined ? null : integerOption('memory-budget-mib', values['memory-budget-mib'], { min: 64, max: 1 << 24, fallback: 0 });
  const rateLimits = {
    mutationsPerMinute: integerOption('rate-limit-mutations-per-minute', values['rate-limit-mutations-per-minute'], {
      min: 1, max: 10_000_000, fallback: defaultRateLimits.mutationsPerMinute,
    }),
    readsPerMinute: integerOption('rate-limit-reads-per-minute', values['rate-limit-reads-per-minute'], {
      min: 1, max: 10_000_000, fallback: defaultRateLimits.readsPerMinute,
    }),
  };
  const extraHosts = values['allow-host'] ?? [];
  for (const name of extraHosts) {
    if (!/^[A-Za-z0-9.-]+$/.test(name) && isIP(name.replace(/^\[(.*)\]$/, '$1')) !== 6) {
      throw new UsageError(`--allow-host must be a host name or address, without a port (got "${name}")`);
    }
  }
  const faultInjection = Boolean(values['allow-fault-injection'] || values.demo);
  const stateDir = path.resolve(values['state-dir'] ?? defaultStateDir());
  const socketsDir = values['sockets-dir'] === undefined ? undefined : path.resolve(values['sockets-dir']);
  const hypervisor = choiceOption<Hypervisor>('hypervisor', values.hypervisor, ['kvm', 'kvm-rig', 'auto'], 'auto');

  // Everything the server creates (database, tokens, sockets, logs) is its user's alone.
  process.umask(0o077);
  if (hypervisor === 'kvm-rig' || (hypervisor === 'auto' && wantsRig())) {
    const serveArgs = withoutOptions(args, tokens, ['host', 'port', 'state-dir', 'sockets-dir', 'hypervisor']);
    return serveInRig({ host, port, stateDir, serveArgs, log: (message) => process.stderr.write(`uckpt serve: ${message}\n`) });
  }
  let service: Service;
  const logger = serverLogger(stateDir);
  const log = (message: string) => logger.info(message);
  try {
    service = await Service.open({ stateDir, ...(socketsDir ? { socketsDir } : {}), log, calibrationMs, capacity: { maxVms, memoryBudgetMiB } });
  } catch (error) {
    if (error instanceof UnsafeStateError) throw new UsageError(error.message);
    throw error;
  }
  for (const source of service.tokenSources) {
    log(`${source.role} token ${source.created ? 'created in' : 'from'} ${source.origin}`);
  }
  const app = await buildApp({
    service,
    version: process.env.npm_package_version ?? '0.0.0',
    allowedHosts: allowedHostsFor(host, extraHosts),
    faultInjection,
    rateLimits,
    logger,
  });

  let closing = false;
  let stopped: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (stopped = resolve));
  const close = async (stopAgents: boolean, why: string) => {
    if (closing) return;
    closing = true;
    log(`${why}: shutting down${stopAgents ? ' and stopping every VM' : '; the VMs keep running'}`);
    await app.close();
    await service.close({ stopAgents });
    stopped(0);
  };
  const onSignal = (signal: NodeJS.Signals, stopAgents: boolean) => process.on(signal, () => void close(stopAgents, signal));
  onSignal('SIGINT', true);
  onSignal('SIGTERM', true);
  onSignal('SIGHUP', false);

  const listened = await app.listen({ host, port });
  const inRig = process.env.UCKPT_KVM_RIG === '1' && host === rigGuestAddress;
  // In the KVM rig the address to open is the host's, where the rig forwards the port.
  const address = inRig ? `http://127.0.0.1:${port}` : listened;
  log(`listening on ${address} (dashboard ${address}/, API ${address}/api, docs ${address}/docs); state in ${stateDir}`);
  if (inRig) {
    log(`inside the KVM rig (${listened}): reachable only through the host's 127.0.0.1:${port}`);
  } else if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') {
    log(`warning: listening on ${host}, not loopback: put TLS in front of it, tokens travel in the clear`);
  }
  log(faultInjection ? `fault injection is on${values.demo && !values['allow-fault-injection'] ? ' (--demo)' : ''}: operators may inject faults into VMs` : 'fault injection is off (--allow-fault-injection turns it on, for testing)');

  if (values.demo) {
    let existing = (await service.supervisor.list()).find((vm) => vm.name === demoVmName);
    // A demo that stopped with the last server (Ctrl-C stops the VMs) starts afresh.
    if (existing && ['stopped', 'failed', 'finished'].includes(existing.state)) {
      log(`demo VM ${existing.id} is ${existing.state}: replacing it`);
      await service.supervisor.remove(existing.id);
      service.vmsChanged(existing.id);
      existing = undefined;
    }
    if (existing) {
      log(`demo VM ${existing.id} is ${existing.state}`);
    } else {
      try {
        const vm = await service.supervisor.create(
          { ...defaultSpec, name: demoVmName, workload: 'graph', memoryMiB: 512, repeat: 0 },
          defaultSettingsFor(describeHost()),
        );
        service.vmsChanged();
        log(`demo VM ${vm.id} created: the graph workload looping forever, checkpointed every ${vm.settings.intervalMs} ms`);
      } catch (error) {
        logger.warn(`the demo VM could not start: ${(error as Error).message}`);
      }
    }
    const operator = service.tokenSources.find((source) => source.role === 'operator');
    log(`sign in at ${address}/ with the operator token${operator?.origin.startsWith('$') ? ` in ${operator.origin}` : `: cat ${operator?.origin}`}`);
  }
  return done;
}

type ArgToken = NonNullable<ReturnType<typeof parseArgs>['tokens']>[number];

/** `args` without the named options and their values. */
function withoutOptions(args: string[], tokens: ArgToken[], names: string[]): string[] {
  const dropped = new Set<number>();
  for (const token of tokens) {
    if (token.kind !== 'option' || !names.includes(token.name)) continue;
    dropped.add(token.index);
    if (token.value !== undefined && !token.inlineValue) dropped.add(token.index + 1);
  }
  return args.filter((_, index) => !dropped.has(index));
}
