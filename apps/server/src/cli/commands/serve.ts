// `uckpt serve`: the service. It listens on loopback unless told otherwise,
// re-attaches to the agents of the VMs it already protects, and with --demo
// makes sure a protected demo VM runs so that a first user sees life.
//
// SIGINT/SIGTERM stop the service and its VMs cleanly. SIGHUP stops only the
// server and leaves the VMs running (for an upgrade); the next start
// re-attaches to them, as it does after a crash.
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultSettings, defaultSpec } from '@uckpt/engine';
import { buildApp } from '../../app.js';
import { Service } from '../../service/service.js';
import { integerOption } from '../options.js';
import { UsageError } from '../usage-error.js';

const demoVmName = 'demo';

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.UCKPT_STATE_DIR) return env.UCKPT_STATE_DIR;
  return path.join(env.XDG_STATE_HOME ?? path.join(homedir(), '.local', 'state'), 'uckpt');
}

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'state-dir': { type: 'string' },
      demo: { type: 'boolean' },
      'calibration-ms': { type: 'string' },
    },
  });
  const host = values.host ?? '127.0.0.1';
  if (!/^[0-9a-fA-F.:]+$|^localhost$/.test(host)) throw new UsageError(`--host must be an IP address or localhost (got "${host}")`);
  const port = integerOption('port', values.port, { min: 0, max: 65535, fallback: 8080 });
  const calibrationMs = integerOption('calibration-ms', values['calibration-ms'], { min: 0, max: 60_000, fallback: 2000 });
  const stateDir = path.resolve(values['state-dir'] ?? defaultStateDir());
  const log = (message: string) => process.stderr.write(`${new Date().toISOString()} uckpt: ${message}\n`);

  const service = await Service.open({ stateDir, log, calibrationMs });
  for (const source of service.tokenSources) {
    log(`${source.role} token ${source.created ? 'created in' : 'from'} ${source.origin}`);
  }
  const app = await buildApp({ service, version: process.env.npm_package_version ?? '0.0.0' });

  let closing = false;
  const close = async (stopAgents: boolean, why: string) => {
    if (closing) return;
    closing = true;
    log(`${why}: shutting down${stopAgents ? ' and stopping every VM' : '; the VMs keep running'}`);
    await app.close();
    await service.close({ stopAgents });
    process.exit(0);
  };
  process.on('SIGINT', () => void close(true, 'SIGINT'));
  process.on('SIGTERM', () => void close(true, 'SIGTERM'));
  process.on('SIGHUP', () => void close(false, 'SIGHUP'));

  const address = await app.listen({ host, port });
  log(`listening on ${address} (dashboard ${address}/, API ${address}/api, docs ${address}/docs); state in ${stateDir}`);
  if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') {
    log(`warning: listening on ${host}, not loopback: put TLS in front of it, tokens travel in the clear`);
  }

  if (values.demo) {
    const existing = (await service.supervisor.list()).find((vm) => vm.name === demoVmName);
    if (existing) {
      log(`demo VM ${existing.id} is ${existing.state}`);
    } else {
      const vm = await service.supervisor.create(
        { ...defaultSpec, name: demoVmName, workload: 'graph', memoryMiB: 512, repeat: 0 },
        { ...defaultSettings },
      );
      service.vmsChanged();
      log(`demo VM ${vm.id} created: the graph workload looping forever, checkpointed every ${vm.settings.intervalMs} ms`);
    }
    const operator = service.tokenSources.find((source) => source.role === 'operator');
    log(`sign in at ${address}/ with the operator token${operator?.origin.startsWith('$') ? ` in ${operator.origin}` : `: cat ${operator?.origin}`}`);
  }
  return new Promise<number>(() => undefined);
}
