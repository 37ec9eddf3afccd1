// `uckpt workloads`: what the guest image can run.
import { parseArgs } from 'node:util';
import { listWorkloads } from '@uckpt/guest';

export function workloadsCommand(args: string[]): number {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } }, strict: true });
  const workloads = listWorkloads();
  if (values.json) {
    process.stdout.write(`${JSON.stringify(workloads)}\n`);
    return 0;
  }
  const width = Math.max(...workloads.map((w) => w.name.length));
  for (const w of workloads) {
    const knobs = [`--size: ${w.sizeUnit} (default ${w.defaultSize})`];
    if (w.paramUnit) knobs.push(`--param: ${w.paramUnit} (default ${w.defaultParam})`);
    process.stdout.write(`${w.name.padEnd(width)}  ${w.summary}\n${' '.repeat(width)}  ${knobs.join('; ')}\n`);
  }
  return 0;
}
