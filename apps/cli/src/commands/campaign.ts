// `uckpt campaign`: a fault-injection campaign. N faults of seeded random
// kinds at seeded random moments into finite workload runs in KVM VMs,
// each detected (or not) and recovered (or not) by the engine's own agent,
// classified against the host program's checksum; the same plan again at
// each retention to compare; coverage with confidence intervals, detection
// latency, recovery time. Every result is appended to a journal as it
// completes, so that an interrupted campaign resumes.
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { limits } from '@uckpt/engine';
import { listWorkloads, runOnHost } from '@uckpt/guest';
import { outcomeChart } from '@uckpt/lab/campaign/chart';
import {
  campaignDefaults,
  campaignMemoryMiB,
  campaignSettings,
  campaignSizes,
  campaignWorkloadSeed,
  coveringRetention,
  type CampaignConfig,
} from '@uckpt/lab/campaign/config';
import { Journal, recordKey } from '@uckpt/lab/campaign/journal';
import type { InjectionRecord } from '@uckpt/lab/campaign/outcome';
import { campaignFaultKinds, makePlan, type CampaignFaultKind } from '@uckpt/lab/campaign/plan';
import { CampaignProgress } from '@uckpt/lab/campaign/progress';
import { summarise } from '@uckpt/lab/campaign/report';
import { runInjection, type Oracle } from '@uckpt/lab/campaign/run-injection';
import { formatCampaign } from '@uckpt/lab/campaign/text';
import { integerOption } from '../options.js';
import { UsageError } from '../usage-error.js';

export async function campaignCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      n: { type: 'string' },
      seed: { type: 'string' },
      workloads: { type: 'string' },
      kinds: { type: 'string' },
      retention: { type: 'string' },
      'compare-retention': { type: 'string' },
      'interval-ms': { type: 'string' },
      'hang-timeout-ms': { type: 'string' },
      out: { type: 'string' },
      resume: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const given = explicitConfig(values);
  if (values.out === '') throw new UsageError('--out must name a directory');
  if (values.resume === '') throw new UsageError('--resume must name a journal file (.jsonl)');
  const outDir = path.resolve(values.out ?? path.join('bench', 'results'));
  const journalFile = path.resolve(values.resume ?? path.join(outDir, `campaign-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`));

  let opened;
  try {
    opened = Journal.read(journalFile);
  } catch (error) {
    throw new UsageError(`--resume: ${(error as Error).message}`);
  }
  const config = resolveConfig(given, opened.config, journalFile);
  requireKvm();
  const { journal } = opened;
  if (!opened.config) journal.start(config);

  const oracles = new Map<string, Oracle>();
  for (const workload of config.workloads) {
    const host = await runOnHost({ workload, seed: campaignWorkloadSeed, size: campaignSizes[workload]! });
    oracles.set(workload, { checksum: host.checksum, progressUnits: host.progressUnits, runtimeMs: host.runtimeMs });
  }

  const plan = makePlan(config);
  const records = new Map(opened.done.map((r) => [recordKey(r), r]));
  const total = plan.length * config.retentions.length;
  const shownJournal = shown(journalFile);
  process.stderr.write(
    `uckpt campaign: ${config.n} injections x retention ${config.retentions.join(', ')} over ${config.workloads.join(', ')}; seed ${config.seed}; ` +
      `journal ${shownJournal}${records.size ? ` (${records.size} of ${total} done: resuming)` : ''}\n`,
  );

  const stop = new AbortController();
  const interrupt = () => stop.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const progress = new CampaignProgress(total, records.size);
  try {
    for (const item of plan) {
      // Each planned injection at every retention in turn: the comparison shares the host's conditions.
      for (const retention of config.retentions) {
        if (records.has(recordKey({ index: item.index, retention }))) continue;
        const settings = campaignSettings(config, retention);
        const oracle = oracles.get(item.workload)!;
        const record = await runInjection(
          item,
          {
            settings,
            memoryMiB: campaignMemoryMiB,
            workloadSeed: campaignWorkloadSeed,
            size: campaignSizes[item.workload]!,
            oracle,
            deadlineMs: Math.round(4 * oracle.runtimeMs + 3 * settings.recurrenceWindowMs),
          },
          stop.signal,
        );
        journal.append(record);
        records.set(recordKey(record), record);
        progress.completed(record);
      }
    }
  } catch (error) {
    progress.end();
    if (!stop.signal.aborted) throw error;
    process.stderr.write(`uckpt campaign: interrupted with ${records.size} of ${total} done; continue with --resume ${shownJournal}\n`);
    return 130;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
  progress.end();

  const all = [...records.values()];
  const [primary, ...compare] = config.retentions.map((retention) => summarise(all, retention));
  const report = { config, oracles: Object.fromEntries(oracles), summary: primary!, compare, journal: journalFile };
  const reportFile = journalFile.replace(/\.jsonl$/, '') + '.json';
  const chartFile = reportFile.replace(/\.json$/, '.svg');
  const chart = outcomeChart(
    [primary!, ...compare],
    `uckpt campaign: ${primary!.injections} injections, seed ${config.seed}, ${config.workloads.length} workloads, ${config.intervalMs} ms interval`,
  );
  mkdirSync(outDir, { recursive: true });
  const text = `${JSON.stringify(report, null, 2)}\n`;
  for (const [file, content] of [[reportFile, text], [chartFile, chart], [path.join(outDir, 'campaign-latest.json'), text], [path.join(outDir, 'campaign-latest.svg'), chart]] as const) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }

  if (values.json) {
    process.stdout.write(`${JSON.stringify({ seed: config.seed, n: config.n, ...primary!, compare, journal: journalFile, report: reportFile, chart: chartFile })}\n`);
  } else {
    process.stdout.write(formatCampaign([primary!, ...compare]));
    process.stdout.write(`\nresults: ${shown(reportFile)}, chart ${shown(chartFile)}, journal ${shownJournal}\n`);
  }
  return 0;
}

type Given = Partial<CampaignConfig>;

/** The configuration the flags ask for, only what was given: a resumed journal supplies the rest. */
function explicitConfig(values: Record<string, string | boolean | undefined>): Given {
  const raw = (flag: string) => values[flag] as string | undefined;
  const given: Given = {};
  if (raw('n') !== undefined) given.n = integerOption('n', raw('n'), { min: 1, max: 1_000_000, fallback: 0 });
  if (raw('seed') !== undefined) given.seed = integerOption('seed', raw('seed'), { min: 0, max: 2 ** 32 - 1, fallback: 0 });
  if (raw('workloads') !== undefined) {
    const known = listWorkloads().map((w) => w.name);
    given.workloads = listOf('workloads', raw('workloads')!, (name) => {
      if (!known.includes(name)) throw new UsageError(`--workloads: unknown workload "${name}"; the workloads are: ${known.join(', ')}`);
      if (campaignSizes[name] === undefined) throw new UsageError(`--workloads: no campaign size is set for "${name}"`);
      return name;
    });
  }
  if (raw('kinds') !== undefined) {
    given.kinds = listOf('kinds', raw('kinds')!, (kind) => {
      if (!(campaignFaultKinds as readonly string[]).includes(kind)) throw new UsageError(`--kinds must be a comma-separated list of ${campaignFaultKinds.join(', ')} (got "${kind}")`);
      return kind as CampaignFaultKind;
    });
  }
  if (raw('interval-ms') !== undefined) given.intervalMs = integerOption('interval-ms', raw('interval-ms'), { ...limits.intervalMs, fallback: 0 });
  if (raw('hang-timeout-ms') !== undefined) given.hangTimeoutMs = integerOption('hang-timeout-ms', raw('hang-timeout-ms'), { ...limits.hangTimeoutMs, fallback: 0 });
  const retention = raw('retention') === undefined ? undefined : integerOption('retention', raw('retention'), { ...limits.retention, fallback: 0 });
  const compare = raw('compare-retention') === undefined
    ? undefined
    : listOf('compare-retention', raw('compare-retention')!, (k) => integerOption('compare-retention', k, { ...limits.retention, fallback: 0 }));
  if (retention !== undefined || compare !== undefined) {
    // The campaign's own retention first; without --retention, the one that covers the detectors' bounds.
    const own = retention ?? coveringRetention({ intervalMs: given.intervalMs ?? campaignDefaults.intervalMs, hangTimeoutMs: given.hangTimeoutMs ?? campaignDefaults.hangTimeoutMs });
    if (compare?.includes(own)) throw new UsageError(`--compare-retention ${own} is the campaign's own retention: name a different one`);
    given.retentions = [own, ...(compare ?? [])];
  }
  return given;
}

/** Fills what was not given from the resumed journal, else from the defaults; refuses a resume that would change the plan. */
function resolveConfig(given: Given, stored: CampaignConfig | null, journalFile: string): CampaignConfig {
  if (stored) {
    for (const [key, value] of Object.entries(given) as [keyof CampaignConfig, unknown][]) {
      if (JSON.stringify(value) !== JSON.stringify(stored[key])) {
        throw new UsageError(`--resume: ${shown(journalFile)} is a campaign with ${key} ${String(stored[key])}, not ${String(value)}: drop the flag or start a new journal`);
      }
    }
    return stored;
  }
  const intervalMs = given.intervalMs ?? campaignDefaults.intervalMs;
  const hangTimeoutMs = given.hangTimeoutMs ?? campaignDefaults.hangTimeoutMs;
  return {
    n: given.n ?? campaignDefaults.n,
    seed: given.seed ?? campaignDefaults.seed,
    workloads: given.workloads ?? listWorkloads().map((w) => w.name).filter((name) => campaignSizes[name] !== undefined),
    kinds: given.kinds ?? [...campaignDefaults.kinds],
    retentions: given.retentions ?? [coveringRetention({ intervalMs, hangTimeoutMs })],
    intervalMs,
    hangTimeoutMs,
  };
}

function listOf<T>(flag: string, raw: string, parse: (item: string) => T): T[] {
  const items = raw.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new UsageError(`--${flag} must be a comma-separated list without empty items (got "${raw}")`);
  const parsed = items.map(parse);
  if (new Set(items).size !== items.length) throw new UsageError(`--${flag} names an item twice (got "${raw}")`);
  return parsed;
}

function requireKvm(): void {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch (error) {
    throw new Error(`a campaign runs KVM VMs, and /dev/kvm is not usable here (${(error as NodeJS.ErrnoException).code}): load kvm-intel or kvm-amd, or join the kvm group`);
  }
}

function shown(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') ? file : relative;
}
