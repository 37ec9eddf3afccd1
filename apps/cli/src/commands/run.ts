// `uckpt run`: one workload to completion, in a KVM VM or as the host
// program, with its checksum, runtime and progress rate.
import { parseArgs } from 'node:util';
import { findWorkload, runOnHost, type RunResult } from '@uckpt/guest';
import { defaultCopyThreads, runInVm, type CheckpointedRunResult, type Vm } from '@uckpt/native-kvm';
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
      mode: { type: 'string' },
      'interval-ms': { type: 'string' },
      retention: { type: 'string' },
      rollbacks: { type: 'string' },
      'store-mib': { type: 'string' },
      'copy-threads': { type: 'string' },
      predictor: { type: 'string' },
      'no-precopy': { type: 'boolean' },
      'dirty-tracking': { type: 'string' },
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
  const mode = choiceOption('mode', values.mode, ['off', 'stop-and-copy', 'cow'] as const, 'off');
  const checkpointFlags = ['interval-ms', 'retention', 'rollbacks', 'store-mib', 'copy-threads', 'predictor', 'no-precopy'] as const;
  const kvmOnly = ['memory-mib', 'vcpus', 'mode', 'dirty-tracking', ...checkpointFlags] as const;
  if (on === 'host' && kvmOnly.some((flag) => values[flag] !== undefined)) {
    throw new UsageError(`${kvmOnly.map((f) => `--${f}`).join(', ')} apply only to --on kvm`);
  }
  if (mode === 'off' && checkpointFlags.some((flag) => values[flag] !== undefined)) {
    throw new UsageError(`${checkpointFlags.map((f) => `--${f}`).join(', ')} need --mode stop-and-copy or --mode cow`);
  }
  const checkpointing =
    mode === 'off'
      ? undefined
      : {
          mode,
          intervalMs: integerOption('interval-ms', values['interval-ms'], { min: 1, max: 10000, fallback: 50 }),
          retention: integerOption('retention', values.retention, { min: 1, max: 1024, fallback: 8 }),
          storeMiB: integerOption('store-mib', values['store-mib'], { min: 1, max: 1 << 20, fallback: (memoryMiB * 3) / 2 }),
          copyThreads: integerOption('copy-threads', values['copy-threads'], { min: 1, max: 16, fallback: defaultCopyThreads() }),
          // The default measured best (README: checkpoint modes); dirty rings cannot predict.
          predictor: choiceOption('predictor', values.predictor, ['off', 'history', 'frontier', 'cost'] as const, values['dirty-tracking'] === 'ring' ? 'off' : 'cost'),
          precopy: !values['no-precopy'],
        };
  const dirtyTracking = choiceOption('dirty-tracking', values['dirty-tracking'], ['bitmap', 'ring'] as const, 'bitmap');
  if (dirtyTracking === 'ring' && checkpointing && checkpointing.predictor !== 'off') {
    throw new UsageError('--predictor needs --dirty-tracking bitmap: dirty rings cannot leave pages writable');
  }
  const rollbacks = integerOption('rollbacks', values.rollbacks, { min: 0, max: 100000, fallback: 0 });

  const run = { workload: values.workload, seed, size, param };
  const progress = values.json ? undefined : progressLine(values.workload);
  let result: RunResult | CheckpointedRunResult;
  try {
    result =
      on === 'host'
        ? await runOnHost(run)
        : await runInVm({
            ...run,
            memoryMiB,
            vcpus,
            dirtyTracking,
            ...(checkpointing && { checkpointing }),
            rollbacks,
            ...(progress && { onStart: progress.watch }),
          });
  } finally {
    progress?.done();
  }

  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...result, memoryMiB: on === 'kvm' ? memoryMiB : undefined })}\n`);
  } else {
    process.stdout.write(describe(result));
  }
  return 0;
}

function describe(r: RunResult | CheckpointedRunResult): string {
  let text =
    `${r.workload} on ${r.on}: checksum ${r.checksum}, ` +
    `${(r.runtimeMs / 1000).toFixed(2)} s, ${r.progressRate.toFixed(1)} progress units/s\n`;
  if ('mode' in r && r.mode !== 'off') {
    const prediction =
      r.predictor && r.predictor !== 'off'
        ? `, ${r.predictor} predictor (precision ${r.precision?.toFixed(2) ?? '-'}, recall ${r.recall?.toFixed(2) ?? '-'})`
        : '';
    for (const warning of r.warnings) text += `  warning: ${warning}\n`;
    text +=
      `  ${r.mode} every ${r.intervalMs} ms, retention ${r.retention}${prediction}: ${r.epochs} epochs, ` +
      `${r.faultsPerEpoch.toFixed(0)} faults per epoch (${(r.faultUsPerEpoch / 1000).toFixed(2)} ms lost), ` +
      `pause p50 ${r.pauseUs.p50.toFixed(0)} us / p99 ${r.pauseUs.p99.toFixed(0)} us, ` +
      `${r.dirtyPagesPerEpoch.toFixed(0)} dirty pages per epoch, store max ${(r.storeBytesMax / 2 ** 20).toFixed(1)} MiB\n`;
    if (r.intervalMs && r.lateMs >= r.intervalMs) text += `  checkpoints waited ${r.lateMs.toFixed(0)} ms in all past their time (the epoch thread was busy)\n`;
    if (r.costs) {
      const c = r.costs;
      text +=
        `  costs: copy ${c.copyNs.toFixed(0)} ns/page (calibrated ${c.copyNsCalibrated.toFixed(0)}), ` +
        `dirty-log fault ${c.dirtyLogFaultNs.toFixed(0)} ns (${c.dirtyLogFaultNsCalibrated > 0 ? `calibrated ${c.dirtyLogFaultNsCalibrated.toFixed(0)}` : 'not measurable here: assumed'})` +
        (r.mode === 'cow' ? `, copy-on-write fault ${(c.cowFaultNs / 1000).toFixed(1)} us (calibrated ${(c.cowFaultNsCalibrated / 1000).toFixed(1)})` : '') +
        '\n';
    }
    if (r.rollbacks) {
      text += `  ${r.rollbacks} rollbacks: p50 ${r.rollbackUs.p50.toFixed(0)} us / p99 ${r.rollbackUs.p99.toFixed(0)} us\n`;
    }
  }
  return text;
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
