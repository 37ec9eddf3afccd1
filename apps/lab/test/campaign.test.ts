// `uckpt campaign` as a user meets it: the built program runs a small
// campaign on real KVM VMs, its JSON adds up, an interrupted campaign
// resumes without redoing what it had done, bad flags are refused. The
// plan, the classification, the interval and the journal are checked
// without VMs.
import { execFile, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { Journal } from '../src/campaign/journal.js';
import { classify, type InjectionRecord } from '../src/campaign/outcome.js';
import { makePlan } from '../src/campaign/plan.js';
import { wilson } from '../src/campaign/report.js';
import { cliPath, describeKvm, emulated, until } from './helper.js';

const cli = cliPath;
const scratch = mkdtempSync(path.join(tmpdir(), 'uckpt-campaign-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function uckpt(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: scratch });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const workloads = ['hashtable', 'sort', 'graph', 'compress', 'dp', 'dirtier'];
const kinds = ['data', 'code', 'stack', 'register', 'hang', 'crash'] as const;

describe('the plan', () => {
  it('is the same for the same seed, different for another, and its first items do not depend on N', () => {
    const plan = makePlan({ n: 40, seed: 3, workloads, kinds });
    expect(makePlan({ n: 40, seed: 3, workloads, kinds })).toEqual(plan);
    expect(makePlan({ n: 12, seed: 3, workloads, kinds })).toEqual(plan.slice(0, 12));
    const other = makePlan({ n: 40, seed: 4, workloads, kinds });
    expect(other.map((i) => i.faultSeed)).not.toEqual(plan.map((i) => i.faultSeed));
    // Every workload in turn; kinds drawn, all of them in 40; moments inside the run.
    expect(plan.slice(0, 6).map((i) => i.workload)).toEqual(workloads);
    expect(new Set(plan.map((i) => i.kind))).toEqual(new Set(kinds));
    for (const item of plan) {
      expect(item.moment).toBeGreaterThanOrEqual(0.15);
      expect(item.moment).toBeLessThanOrEqual(0.75);
    }
  });
});

describe('classification', () => {
  const end = (checksum: string | null, extra: Partial<{ state: string; timedOut: boolean; progressing: boolean }> = {}) => ({
    state: checksum ? 'finished' : 'failed', reason: null, checksum, timedOut: false, progressing: false, ...extra,
  });
  it('tells the five classes apart by detection and how the run ended', () => {
    expect(classify(false, end('aa'), 'aa').outcome).toBe('not-activated');
    expect(classify(true, end('aa'), 'aa').outcome).toBe('recovered');
    expect(classify(true, end('bb'), 'aa').outcome).toBe('detected-not-recovered');
    expect(classify(true, end(null), 'aa').outcome).toBe('detected-not-recovered');
    expect(classify(false, end('bb'), 'aa').outcome).toBe('silent-wrong');
    const hang = classify(false, end(null, { state: 'running', timedOut: true }), 'aa');
    expect(hang).toMatchObject({ outcome: 'undetected-hang', why: expect.stringMatching(/without progress/) });
  });
});

describe('the Wilson interval', () => {
  it('stays inside [0, 1] and is not degenerate at 100 %', () => {
    const [low, high] = wilson(50, 50);
    expect(high).toBe(1);
    expect(low).toBeCloseTo(0.9287, 3);
    const [l2, h2] = wilson(5, 10);
    expect(l2).toBeCloseTo(0.2366, 3);
    expect(h2).toBeCloseTo(0.7634, 3);
  });
});

describe('the journal', () => {
  it('drops a line cut off by a kill mid-write, so that injection runs again', () => {
    const file = path.join(scratch, 'cut.jsonl');
    const config = { n: 2, seed: 1, workloads: ['dp'], kinds: [...kinds], retentions: [22], intervalMs: 50, hangTimeoutMs: 300 };
    const { journal } = Journal.read(file);
    journal.start(config);
    journal.append({ index: 0, retention: 22 } as InjectionRecord);
    appendFileSync(file, '{"index":1,"retention":22,"outc');
    const reopened = Journal.read(file);
    expect(reopened.config).toEqual(config);
    expect(reopened.done.map((r) => r.index)).toEqual([0]);
    reopened.journal.append({ index: 1, retention: 22 } as InjectionRecord);
    expect(Journal.read(file).done.map((r) => r.index)).toEqual([0, 1]);
  });
});

describe('uckpt campaign: bad input', () => {
  it.each([
    [['--n', '0'], /--n must be an integer from 1/],
    [['--seed', '4294967296'], /--seed must be an integer from 0 to 4294967295/],
    [['--workloads', 'sort,nope'], /unknown workload "nope"/],
    [['--kinds', 'hang,meteor'], /--kinds must be a comma-separated list of data, code, stack, register, hang, crash/],
    [['--retention', '8', '--compare-retention', '8'], /--compare-retention 8 is the campaign's own retention/],
    [['--compare-retention', '1,,8'], /without empty items/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('%j exits 2 and says why', async (args, message) => {
    const r = await uckpt('campaign', ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('refuses to resume from a file that is not a campaign journal, or with flags that would change its plan', async () => {
    const notJournal = path.join(scratch, 'not-a-journal.jsonl');
    writeFileSync(notJournal, '{"hello":1}\n');
    const r = await uckpt('campaign', '--resume', notJournal);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/does not start with a campaign header/);

    const journal = path.join(scratch, 'seed-5.jsonl');
    Journal.read(journal).journal.start({ n: 4, seed: 5, workloads: ['dp'], kinds: [...kinds], retentions: [22], intervalMs: 50, hangTimeoutMs: 300 });
    const conflict = await uckpt('campaign', '--resume', journal, '--seed', '6');
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toMatch(/is a campaign with seed 5, not 6/);
  });
});

describeKvm('uckpt campaign on KVM', () => {
  // Fewer under emulation (e2e/kvm-rig), where each injection's run takes seconds.
  const n = emulated ? 6 : 12;
  const journalFile = path.join(scratch, 'small.jsonl');
  const args = ['campaign', '--n', String(n), '--seed', '3', '--out', path.join(scratch, 'results'), '--resume', journalFile];
  const records = () =>
    readFileSync(journalFile, 'utf8').split('\n').filter(Boolean).slice(1).map((line) => JSON.parse(line) as InjectionRecord);

  it('interrupted after a few injections, then resumed: finishes without redoing them, and its JSON adds up', async () => {
    const first = spawn(process.execPath, [cli, ...args], { cwd: scratch, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    first.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => first.on('exit', (code) => resolve(code)));
    try {
      await until(() => { try { return records().length >= 3; } catch { return false; } }, 'three injections in the journal', 30_000);
    } finally {
      first.kill('SIGTERM');
    }
    expect(await exited).toBe(130);
    expect(stderr).toMatch(new RegExp(`interrupted with \\d+ of ${n} done; continue with --resume`));
    const before = records();
    expect(before.length).toBeGreaterThanOrEqual(3);
    expect(before.length).toBeLessThan(n);

    const resumed = await uckpt(...args, '--json');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`\\(${before.length} of ${n} done: resuming\\)`));
    const after = records();
    // The ones done before were kept as they were, not run again.
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.map((r) => r.index).sort((a, b) => a - b)).toEqual([...Array(n).keys()]);

    const report = JSON.parse(resumed.stdout);
    for (const field of ['injections', 'notActivated', 'detected', 'recovered', 'detectedNotRecovered', 'silentWrong', 'undetectedHang', 'coverage']) {
      expect(report).toHaveProperty(field);
    }
    expect(report.detectionLatencyMs).toEqual({ p50: expect.any(Number), p99: expect.any(Number) });
    expect(report.recoveryMs).toEqual({ p50: expect.any(Number), p99: expect.any(Number) });
    const { injections, notActivated, recovered, detectedNotRecovered, silentWrong, undetectedHang, detected } = report;
    expect(notActivated + recovered + detectedNotRecovered + silentWrong + undetectedHang).toBe(injections);
    expect(detected).toBe(recovered + detectedNotRecovered);
    expect(injections + report.notInjected).toBe(n);
    if (detected > 0) expect(report.coverage).toBeCloseTo(recovered / detected, 10);

    // The journal follows the plan of seed 3, and every class is what its record shows.
    const plan = makePlan({ n, seed: 3, workloads, kinds });
    for (const record of after) {
      const planned = plan[record.index]!;
      expect({ workload: record.workload, kind: record.kind, moment: record.moment, faultSeed: record.faultSeed }).toEqual(
        { workload: planned.workload, kind: planned.kind, moment: planned.moment, faultSeed: planned.faultSeed },
      );
      if (record.outcome === 'recovered' || record.outcome === 'not-activated') expect(record.end.checksum).toBe(record.expected);
      if (record.outcome === 'recovered' || record.outcome === 'detected-not-recovered') expect(record.detection).toBeDefined();
      else expect(record.alerts).toBe(0);
      // A crash is always seen, at once, and revived from a checkpoint.
      if (record.kind === 'crash' && record.outcome) expect(record).toMatchObject({ outcome: 'recovered', detection: { detector: 'crash' } });
    }
    expect(readFileSync(report.chart, 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  });
});
