// `uckpt validate-model` as a user meets it: the built program protects a
// looping workload in a real KVM VM under faults, and its JSON compares the
// availability it measured with the model's; bad flags are refused.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { cliPath, describeKvm, emulated } from './helper.js';

const cli = cliPath;
const scratch = mkdtempSync(path.join(tmpdir(), 'uckpt-validate-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function uckpt(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, 'validate-model', ...args], { encoding: 'utf8', cwd: scratch });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describeKvm('a short validation on KVM', () => {
  it('measures availability under injected faults and sets the model, fed what the run measured, beside it', async () => {
    const { code, stdout, stderr } = await uckpt('--seconds', '15', '--calibration-s', '2', '--mean-gap-s', '0.7', '--seed', '3', '--json', '--out', 'results');
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/hang, crash, data faults every 0\.70 s/);
    const report = JSON.parse(stdout);

    expect(report.run.injections.length).toBeGreaterThan(0);
    expect(report.run.unprotectedRate).toBeGreaterThan(0);
    for (const availability of [report.measured.availability, report.model.availability]) {
      expect(availability).toBeGreaterThan(0);
      expect(availability).toBeLessThan(1);
    }
    expect(report.relativeDifference.availability).toBeCloseTo((report.model.availability - report.measured.availability) / report.measured.availability, 9);
    expect(report.relativeDifference.unavailability).toBeCloseTo((report.measured.availability - report.model.availability) / (1 - report.measured.availability), 9);

    // The faults were found: the error rate, coverage and latency come from them, the repair time is the one set.
    const detected = report.run.injections.filter((i: { detectionLatencyMs?: number }) => i.detectionLatencyMs !== undefined);
    expect(detected.length).toBeGreaterThan(0);
    // Per hour of new work: the wall time less each fault's excursion (latency, recovery, the work done again) and the pauses.
    type Injection = { detectionLatencyMs?: number; recoveredAfterMs?: number; discardedMs?: number; harmful: boolean };
    const injections = report.run.injections as Injection[];
    const excursionsS = injections.reduce((sum, i) => sum + (i.recoveredAfterMs ?? i.detectionLatencyMs ?? 0) + (i.discardedMs ?? 0), 0) / 1000;
    // Less the checkpoints' share of the time at most (their pauses and faults: a few per
    // cent on a real host, far more under emulation), as the measured parameters have it.
    const { checkpointOverheadMs, intervalMs } = report.parameters as { checkpointOverheadMs: number; intervalMs: number };
    const pausesS = (15 * checkpointOverheadMs) / (intervalMs + checkpointOverheadMs);
    expect(report.parameters.errorRatePerHour).toBeGreaterThan((injections.length * 3600) / (15 - excursionsS));
    // (With a tenth of slack for what neither counts, a quarter under emulation, where each
    // rollback's own time is far longer: 0.2 % past the tenth there.)
    expect(report.parameters.errorRatePerHour).toBeLessThan((injections.length * 3600) / (15 - excursionsS - pausesS) * (emulated ? 1.25 : 1.1));
    // Every detected fault was harmful; the masked ones are the rest.
    expect(detected.every((i: Injection) => i.harmful)).toBe(true);
    const harmful = injections.filter((i) => i.harmful);
    expect(report.parameters.maskedFraction).toBeCloseTo(1 - harmful.length / injections.length, 9);
    // The detectors that caught them, their shares summing to 1, each with the bound its alerts stated.
    expect(report.detectors.reduce((sum: number, d: { share: number }) => sum + d.share, 0)).toBeCloseTo(1, 9);
    expect(report.detectors.reduce((sum: number, d: { detected: number }) => sum + d.detected, 0)).toBe(detected.length);
    expect(report.oneDetector.availability).toBeGreaterThan(0);
    // Calibrated before and after the protected phase, averaged.
    expect(report.run.unprotectedRates).toHaveLength(2);
    expect(report.run.unprotectedRate).toBeCloseTo((report.run.unprotectedRates[0] + report.run.unprotectedRates[1]) / 2, 9);
    expect(report.measured.calibrated.availability).toBeCloseTo(report.run.unitsKept / (report.run.unprotectedRate * 15), 9);
    // Measured against the rate of the run's own fault-free stretches, less the checkpoints' share.
    expect(report.run.cleanStretches.seconds).toBeGreaterThan(0);
    expect(report.measured.availability).toBeCloseTo(report.run.unitsKept / (report.measured.referenceRate * 15), 9);
    expect(report.measured.referenceRate).toBeGreaterThanOrEqual(report.run.cleanStretches.units / report.run.cleanStretches.seconds);
    expect(report.parameters.coverage).toBeCloseTo(detected.length / harmful.length, 9);
    for (const name of ['errorRatePerHour', 'maskedFraction', 'coverage', 'detectionLatencyMs', 'latencyBoundMs', 'rollbackMs', 'checkpointOverheadMs', 'intervalMs', 'retention']) {
      expect(report.sources[name], name).toBe('measured');
    }
    expect(report.sources.repairSeconds).toBe('set');
    expect(report.parameters.retention).toBe(report.config.retention);

    // The same object is written under --out.
    expect(JSON.parse(readFileSync(path.join(scratch, 'results', 'validate-model-latest.json'), 'utf8')).measured).toEqual(report.measured);
  }, 40_000);
});

describe('bad flags', () => {
  it.each([
    [['--seconds', '5'], /--seconds must be an integer from 10/],
    [['--mean-gap-s', '0'], /--mean-gap-s must be a positive number/],
    [['--rate-per-hour', 'lots'], /--rate-per-hour must be a positive number/],
    [['--rate-per-hour', '600', '--mean-gap-s', '3'], /give one/],
    [['--kinds', 'hang,meteor'], /--kinds must be a comma-separated list of hang, crash, data/],
    [['--workload', 'nope'], /unknown workload "nope"/],
    [['--interval-ms', '0'], /--interval-ms must be an integer/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
  ])('%j exits 2 with the reason', async (args, message) => {
    const { code, stderr } = await uckpt(...args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });
});
