// `uckpt domains`: a Xen host's domains as the server sees them, and which
// VM protects each. `uckpt protect NAME`: protects one by name or domid.
import { parseArgs } from 'node:util';
import { limits } from '@uckpt/engine';
import { integerOption } from '../options.js';
import { ServerClient, serverOptions } from '../server-client.js';
import { UsageError } from '../usage-error.js';

interface HostDomain {
  domid: number;
  name: string;
  type: string;
  state: string;
  memoryKb: number;
  vcpus: number;
  protectedBy: string | null;
  refusal: string | null;
}

export async function domainsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, strict: true, options: { ...serverOptions, json: { type: 'boolean' } } });
  const client = new ServerClient(values);
  const answer = await client.request<{ domains: HostDomain[] }>('GET', '/api/host/domains');
  if (!answer.ok) {
    process.stderr.write(`uckpt domains: the server refused: ${answer.refusal}\n`);
    return 1;
  }
  const { domains } = answer.body!;
  if (values.json) {
    process.stdout.write(`${JSON.stringify(domains)}\n`);
    return 0;
  }
  const rows = domains.map((d) => [
    String(d.domid),
    d.name || '-',
    d.type,
    d.state,
    `${Math.round(d.memoryKb / 1024)}`,
    String(d.vcpus),
    d.protectedBy ?? (d.refusal ? `no: ${d.refusal}` : '-'),
  ]);
  const header = ['DOMID', 'NAME', 'TYPE', 'STATE', 'MIB', 'VCPUS', 'PROTECTED BY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) {
    process.stdout.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}\n`);
  }
  return 0;
}

export async function protectCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { ...serverOptions, name: { type: 'string' }, 'interval-ms': { type: 'string' }, retention: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (positionals.length !== 1) throw new UsageError('uckpt protect takes one domain: its name or domid (see `uckpt domains`)');
  const domain = positionals[0]!;
  if (!/^[A-Za-z0-9._-]{1,63}$/.test(domain)) throw new UsageError(`the domain must be a name or domid of letters, digits, . _ - (got "${domain}")`);
  const settings: Record<string, number> = {};
  if (values['interval-ms'] !== undefined) settings.intervalMs = integerOption('interval-ms', values['interval-ms'], { ...limits.intervalMs, fallback: 0 });
  if (values.retention !== undefined) settings.retention = integerOption('retention', values.retention, { ...limits.retention, fallback: 0 });
  const body = {
    domain,
    ...(values.name === undefined ? {} : { name: values.name }),
    ...(Object.keys(settings).length ? { settings } : {}),
  };
  const client = new ServerClient(values);
  const answer = await client.request<{ id: string; name: string; state: string }>('POST', '/api/vms', body, 120_000);
  if (!answer.ok) {
    process.stderr.write(`uckpt protect: the server refused: ${answer.refusal}\n`);
    return answer.status === 400 ? 2 : 1;
  }
  const vm = answer.body!;
  if (values.json) process.stdout.write(`${JSON.stringify(vm)}\n`);
  else process.stdout.write(`${domain} is protected by VM ${vm.id} (${vm.name}, ${vm.state}): ${client.url}/api/vms/${vm.id}\n`);
  return 0;
}
