// `uckpt validate-model`: the availability model against the engine. A
// looping workload runs protected in a KVM VM for a fixed wall time while
// faults arrive at a known rate; the work it kept, against its unprotected
// rate, is the measured availability. The model, fed the parameters the same
// run measured, gives its own; the command reports both and how far apart.
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { limits } from '@uckpt/engine';
import { listWorkloads } from '@uckpt/guest';
import { campaignMemoryMiB, campaignSettings, campaignSizes, campaignWorkloadSeed, coveringRetention } from '@uckpt/lab/campaign/config';
import { compare, injectionsByKind } from '@uckpt/lab/validation/fit';
import { runValidation, validationFaultKinds, type ValidationFaultKind, type ValidationSetup } from '@uckpt/lab/validation/run';
import { formatValidation } from '@uckpt/lab/validation/text';
import { integerOption } from '../options.js';
import { UsageError } from '../usage-error.js';

const defaults = {
  seconds: 120,
  calibrationSeconds: 10,
  meanGapSeconds: 3,
  seed: 1,
  workload: 'dp',
  kinds: ['hang', 'crash', 'data'] as ValidationFaultKind[],
  // A failed VM is restarted by hand: minutes. The run itself rarely fails with a covering retention.
  repairSeconds: 60,
  hangTimeoutMs: 300,
};

export async function validateModelCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      seconds: { type: 'string' },
      'calibration-s': { type: 'string' },
      'rate-per-hour': { type: 'string' },
      'mean-gap-s': { type: 'string' },
      seed: { type: 'string' },
      workload: { type: 'string' },
      kinds: { type: 'string' },
      'interval-ms': { type: 'string' },
      'repair-s': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const seconds = integerOption('seconds', values.seconds, { min: 10, max: 86_400, fallback: defaults.seconds });
  const calibrationSeconds = integerOption('calibration-s', values['calibration-s'], { min: 1, max: 600, fallback: defaults.calibrationSeconds });
  const seed = integerOption('seed', values.seed, { min: 0, max: 2 ** 32 - 1, fallback: defaults.seed });
  const intervalMs = integerOption('interval-ms', values['interval-ms'], { ...limits.intervalMs, fallback: 50 });
  const repairSeconds = positiveNumber('repair-s', values['repair-s'], defaults.repairSeconds, { allowZero: true });
  if (values['rate-per-hour'] !== undefined && values['mean-gap-s'] !== undefined) {
    throw new UsageError('--rate-per-hour and --mean-gap-s say the same thing: give one');
  }
  const meanGapSeconds = values['rate-per-hour'] !== undefined
    ? 3600 / positiveNumber('rate-per-hour', values['rate-per-hour'], 0)
    : positiveNumber('mean-gap-s', values['mean-gap-s'], defaults.meanGapSeconds);
  const workload = values.workload ?? defaults.workload;
  const known = listWorkloads().map((w) => w.name);
  if (!known.includes(workload)) throw new UsageError(`--workload: unknown workload "${workload}"; the workloads are: ${known.join(', ')}`);
  const size = campaignSizes[workload];
  if (size === undefined) throw new UsageError(`--workload: no size is set for "${workload}"; choose one of ${Object.keys(campaignSizes).join(', ')}`);
  const kinds = values.kinds === undefined ? defaults.kinds : kindsOption(values.kinds);
  if (values.out === '') throw new UsageError('--out must name a directory');
  requireKvm();

  // The campaign's protection: a short hang threshold, a retention covering every detector's bound.
  const protection = { intervalMs, hangTimeoutMs: defaults.hangTimeoutMs };
  const settings = campaignSettings(protection, coveringRetention(protection));
  const setup: ValidationSetup = {
    workload, size, memoryMiB: campaignMemoryMiB, workloadSeed: campaignWorkloadSeed, settings,
    calibrationSeconds, protectedSeconds: seconds, meanGapSeconds, kinds, seed,
    // The slowest detector's bound and a recovery's recurrence window: the last fault is settled before the end.
    quietSeconds: settings.recurrenceWindowMs / 1000 + 1,
  };
  process.stderr.write(
    `uckpt validate-model: ${workload} (size ${size}), ${calibrationSeconds} s unprotected, then ${seconds} s protected at ${intervalMs} ms with retention ${settings.retention}; ` +
      `${kinds.join(', ')} faults every ${meanGapSeconds.toFixed(2)} s on average (${Math.round(3600 / meanGapSeconds)}/h), seed ${seed}\n`,
  );

  const stop = new AbortController();
  const interrupt = () => stop.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  let run;
  try {
    run = await runValidation(setup, (p) => {
      process.stderr.write(`  ${p.elapsedSeconds.toFixed(0).padStart(4)} s: ${p.injected} injected, ${p.detected} detected, ${p.units} units of work kept\n`);
    }, stop.signal);
  } catch (error) {
    if (!stop.signal.aborted) throw error;
    process.stderr.write('uckpt validate-model: interrupted\n');
    return 130;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }

  const comparison = compare(run, repairSeconds);
  const { epochs, ...runSummary } = run;
  const report = {
    config: { workload, size, seconds, calibrationSeconds, intervalMs, retention: settings.retention, hangTimeoutMs: settings.hangTimeoutMs, meanGapSeconds, ratePerHour: 3600 / meanGapSeconds, kinds, seed, repairSeconds },
    run: { ...runSummary, epochs: epochs.length, byKind: injectionsByKind(run) },
    ...comparison,
  };
  const outDir = path.resolve(values.out ?? path.join('bench', 'results'));
  const file = path.join(outDir, `validate-model-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(outDir, { recursive: true });
  const text = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(file, text);
  writeFileSync(path.join(outDir, 'validate-model-latest.json'), text);

  if (values.json) process.stdout.write(`${JSON.stringify({ ...report, file })}\n`);
  else process.stdout.write(`${formatValidation(run, comparison)}results: ${path.relative(process.cwd(), file)}\n`);
  return 0;
}

function positiveNumber(flag: string, raw: string | undefined, fallback: number, { allowZero = false } = {}): number {
  if (raw === undefined) return fallback;
  const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) {
    throw new UsageError(`--${flag} must be a ${allowZero ? 'non-negative' : 'positive'} number (got "${raw}")`);
  }
  return value;
}

function kindsOption(raw: string): ValidationFaultKind[] {
  const kinds = raw.split(',').map((s) => s.trim());
  for (const kind of kinds) {
    if (!(validationFaultKinds as readonly string[]).includes(kind)) {
      throw new UsageError(`--kinds must be a comma-separated list of ${validationFaultKinds.join(', ')} (got "${kind}")`);
    }
  }
  if (new Set(kinds).size !== kinds.length) throw new UsageError(`--kinds names a kind twice (got "${raw}")`);
  return kinds as ValidationFaultKind[];
}

function requireKvm(): void {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch (error) {
    throw new Error(`the validation runs a KVM VM, and /dev/kvm is not usable here (${(error as NodeJS.ErrnoException).code}): load kvm-intel or kvm-amd, or join the kvm group`);
  }
}
