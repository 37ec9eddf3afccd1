// `uckpt run`: one workload to completion, in a KVM VM or as the host
// program, with its checksum, runtime and progress rate.
import { parseArgs } from 'node:util';
import { findWorkload, runInVm, runOnHost, type RunResult, type Vm } from '@uckpt/native-kvm';
import { choiceOption, integerOption } from '../options.js';
import { UsageError } from '../usage-error.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export async function runCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      workload: { type: 'string' },
      on: { type: 'string' },
      'memory-mib': { type: 'string' },
      vcpus: { type: 'string' },
      seed: { type: 'string' },
      size: { type: 'string' },
      param: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (!values.workload) throw new UsageError('--workload NAME is required (see `uckpt workloads`)');
  try {
    findWorkload(values.workload);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const on = choiceOption('on', values.on, ['kvm', 'host'] as const, 'kvm');
  const memoryMiB = integerOption('memory-mib', values['memory-mib'], { min: 16, max: 16384, fallback: 1024 });
  const vcpus = integerOption('vcpus', values.vcpus, { min: 1, max: 64, fallback: 1 });
  const seed = integerOption('seed', values.seed, { min: 0, max: MAX_SAFE, fallback: 1 });
  const size = integerOption('size', values.size, { min: 1, max: MAX_SAFE, fallback: 0 });
  const param = integerOption('param', values.param, { min: 1, max: MAX_SAFE, fallback: 0 });
  if (on === 'host' && (values['memory-mib'] !== undefined || values.vcpus !== undefined)) {
    throw new UsageError('--memory-mib and --vcpus apply only to --on kvm');
  }

  const run = { workload: values.workload, seed, size, param };
  const progress = values.json ? undefined : progressLine(values.workload);
  let result: RunResult;
  try {
    result =
      on === 'host'
        ? await runOnHost(run)
        : await runInVm({ ...run, memoryMiB, vcpus, ...(progress && { onStart: progress.watch }) });
  } finally {
    progress?.done();
  }

  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...result, seed, memoryMiB: on === 'kvm' ? memoryMiB : undefined })}\n`);
  } else {
    process.stdout.write(
      `${result.workload} on ${result.on}: checksum ${result.checksum}, ` +
        `${(result.runtimeMs / 1000).toFixed(2)} s, ${result.progressRate.toFixed(1)} progress units/s\n`,
    );
  }
  return 0;
}

/** A one-line progress display on a terminal's stderr; silent otherwise. */
function progressLine(workload: string): { watch: (vm: Vm) => void; done: () => void } | undefined {
  if (!process.stderr.isTTY) return undefined;
  let timer: NodeJS.Timeout | undefined;
  return {
    watch(vm) {
      timer = setInterval(() => {
        if (vm.state !== 'running') return;
        const { progress, progressTotal } = vm.mailbox();
        const pct = progressTotal ? Math.min(100, (100 * progress) / progressTotal) : 0;
        process.stderr.write(`\r${workload}: ${pct.toFixed(0).padStart(3)}% (${progress}/${progressTotal})`);
      }, 250);
      timer.unref();
    },
    done() {
      if (timer) clearInterval(timer);
      process.stderr.write('\r\x1b[K');
    },
  };
}
