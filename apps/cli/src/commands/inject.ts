// `uckpt inject`: injects a fault into a protected VM through the server's
// REST API (for testing detectors and recovery), and prints what was done.
// The token comes from UCKPT_TOKEN, --token-file, or the state directory's
// operator.token, in that order.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { faultKinds, faultLimits, faultRegisters, memoryRegions, type FaultRequest, type Injection } from '@uckpt/engine';
import { choiceOption, integerOption } from '../options.js';
import { UsageError } from '../usage-error.js';
import { defaultStateDir } from './serve.js';

export async function injectCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      vm: { type: 'string' },
      kind: { type: 'string' },
      region: { type: 'string' },
      page: { type: 'string' },
      bits: { type: 'string' },
      register: { type: 'string' },
      seq: { type: 'string' },
      seed: { type: 'string' },
      server: { type: 'string' },
      'token-file': { type: 'string' },
      'state-dir': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (!values.vm) throw new UsageError('--vm ID is required (the VM id, e.g. vm-3f2a9c01b4d7: see GET /api/vms)');
  if (!/^vm-[0-9a-f]{1,32}$/.test(values.vm)) throw new UsageError(`--vm must be a VM id like vm-3f2a9c01b4d7 (got "${values.vm}")`);
  if (!values.kind) throw new UsageError(`--kind is required: one of ${faultKinds.join(', ')}`);
  const fault: FaultRequest = { kind: choiceOption('kind', values.kind, faultKinds, 'bit-flip') };
  if (values.region !== undefined) fault.region = choiceOption('region', values.region, memoryRegions, 'data');
  if (values.register !== undefined) fault.register = choiceOption('register', values.register, faultRegisters, 'rax');
  for (const name of ['page', 'bits', 'seq', 'seed'] as const) {
    if (values[name] !== undefined) fault[name] = integerOption(name, values[name], { ...faultLimits[name], fallback: 0 });
  }
  const server = (values.server ?? process.env.UCKPT_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(server)) throw new UsageError(`--server must be a URL like http://127.0.0.1:8080 (got "${server}")`);
  const token = readToken(values['token-file'], values['state-dir']);

  let answer: Response;
  try {
    answer = await fetch(`${server}/api/vms/${values.vm}/faults`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(fault),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new Error(`cannot reach the server at ${server} (${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}): is \`uckpt serve\` running? (--server or UCKPT_URL to point elsewhere)`);
  }
  const body = (await answer.json().catch(() => null)) as (Injection & { error?: { code: string; message: string } }) | null;
  if (!answer.ok) {
    const why = body?.error ? `${body.error.message} (${body.error.code})` : `HTTP ${answer.status}`;
    process.stderr.write(`uckpt inject: the server refused: ${why}\n`);
    return answer.status === 400 ? 2 : 1;
  }
  const injection = body as Injection;
  if (values.json) process.stdout.write(`${JSON.stringify(injection)}\n`);
  else {
    process.stdout.write(`${injection.id}: ${injection.effect.description}\n`);
    process.stdout.write(`its outcome: GET ${server}/api/vms/${values.vm}/faults\n`);
  }
  return 0;
}

function readToken(tokenFile: string | undefined, stateDir: string | undefined): string {
  const fromEnv = process.env.UCKPT_TOKEN?.trim();
  if (fromEnv && !tokenFile) return fromEnv;
  const file = tokenFile ?? path.join(stateDir ?? defaultStateDir(), 'operator.token');
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new UsageError(`cannot read the token from ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): set UCKPT_TOKEN or pass --token-file`);
  }
  if (!token) throw new UsageError(`${file} is empty: set UCKPT_TOKEN or pass --token-file`);
  return token;
}
