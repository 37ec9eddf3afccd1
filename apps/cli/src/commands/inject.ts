// `uckpt inject`: injects a fault into a protected VM through the server's
// REST API (for testing detectors and recovery), and prints what was done.
import { parseArgs } from 'node:util';
import { faultKinds, faultLimits, faultRegisters, memoryRegions, type FaultRequest, type Injection } from '@uckpt/engine';
import { choiceOption, integerOption } from '../options.js';
import { ServerClient, serverOptions } from '../server-client.js';
import { UsageError } from '../usage-error.js';

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
      ...serverOptions,
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
  const client = new ServerClient(values);
  const answer = await client.request<Injection>('POST', `/api/vms/${values.vm}/faults`, fault);
  if (!answer.ok) {
    process.stderr.write(`uckpt inject: the server refused: ${answer.refusal}\n`);
    return answer.status === 400 ? 2 : 1;
  }
  const injection = answer.body!;
  if (values.json) process.stdout.write(`${JSON.stringify(injection)}\n`);
  else {
    process.stdout.write(`${injection.id}: ${injection.effect.description}\n`);
    process.stdout.write(`its outcome: GET ${client.url}/api/vms/${values.vm}/faults\n`);
  }
  return 0;
}
