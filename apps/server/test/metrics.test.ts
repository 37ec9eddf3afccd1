// GET /metrics as a scraper reads it: known telemetry in, the Prometheus
// text format out, parsed back and checked value by value.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { AlertEvent, CheckpointEvent, EpochEvent, RollbackEvent, TelemetryEvent } from '@uckpt/engine';
import { TelemetryMetrics, vmStates, type VmInfo } from '../src/metrics/index.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The sample lines of the text exposition format (comments skipped). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[name as string] = (value as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(metrics: TelemetryMetrics) {
  const samples = parse(await metrics.render());
  /** The value of the one sample with this name whose labels include `labels`. */
  const value = (name: string, labels: Record<string, string> = {}): number | undefined => {
    const found = samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
    return found[0]?.value;
  };
  return { samples, value };
}

function epoch(vmId: string, seq: number, fields: Partial<EpochEvent> = {}): EpochEvent {
  return {
    type: 'epoch',
    vmId,
    time: seq * 50,
    seq,
    mode: 'cow',
    intervalMs: 50,
    dirtyPages: 10,
    pagesCopied: 4,
    pagesPrecopied: 0,
    pauseUs: 200,
    faults: 6,
    faultUs: 12,
    lateUs: 0,
    predicted: 4,
    truePositives: 3,
    falsePositives: 1,
    misses: 7,
    precision: 0.75,
    recall: 0.3,
    storeBytes: 65_536,
    checkpointsRetained: 8,
    progressRate: 1234.5,
    overheadPct: 3,
    coalesced: 0,
    ...fields,
  };
}

const rollback = (fields: Partial<RollbackEvent> = {}): RollbackEvent => ({
  type: 'rollback',
  vmId: 'vm-a',
  time: 1,
  target: 41,
  cause: 'operator',
  ok: true,
  seq: 41,
  pagesRestored: 10,
  checkpointsDropped: 2,
  durationUs: 1500,
  ...fields,
});

const alert = (detector: string): AlertEvent => ({
  type: 'alert',
  vmId: 'vm-a',
  time: 1,
  detector,
  message: 'x',
  evidence: {},
  latencyBoundMs: 100,
  action: 'rollback',
});

const vmA: VmInfo = { id: 'vm-a', name: 'web-1', backend: 'kvm', state: 'running' };
const vmB: VmInfo = { id: 'vm-b', name: 'db-1', backend: 'sim', state: 'calibrating' };

function fed(events: TelemetryEvent[], vms: VmInfo[] = [vmA, vmB]): TelemetryMetrics {
  const metrics = new TelemetryMetrics({ processMetrics: false });
  metrics.setVms(vms);
  for (const event of events) metrics.observe(event);
  return metrics;
}

describe('TelemetryMetrics', () => {
  it('counts epochs, pages, faults and checkpoints per VM', async () => {
    const metrics = fed([
      epoch('vm-a', 1),
      epoch('vm-a', 2, { dirtyPages: 30, pagesCopied: 6, pagesPrecopied: 20, faults: 0, lateUs: 250_000 }),
      epoch('vm-a', 6, { coalesced: 3 }),
      epoch('vm-b', 1, { dirtyPages: 1 }),
      { type: 'checkpoint', vmId: 'vm-a', time: 1, seq: 7, pages: 3, bytes: 12_288, manual: true },
      // Periodic checkpoint events would count twice: epochs already count them.
      { type: 'checkpoint', vmId: 'vm-a', time: 1, seq: 8, pages: 3, bytes: 12_288, manual: false } satisfies CheckpointEvent,
    ]);
    const { value } = await scrape(metrics);
    expect(value('uckpt_epochs_total', { vm: 'vm-a' })).toBe(6);
    expect(value('uckpt_epochs_coalesced_total', { vm: 'vm-a' })).toBe(3);
    expect(value('uckpt_dirty_pages_total', { vm: 'vm-a' })).toBe(50);
    expect(value('uckpt_pages_copied_total', { vm: 'vm-a' })).toBe(14);
    expect(value('uckpt_pages_copied_ahead_total', { vm: 'vm-a' })).toBe(20);
    expect(value('uckpt_write_faults_total', { vm: 'vm-a' })).toBe(12);
    expect(value('uckpt_checkpoint_late_seconds_total', { vm: 'vm-a' })).toBe(0.25);
    expect(value('uckpt_checkpoint_late_seconds_total', { vm: 'vm-b' })).toBe(0);
    expect(value('uckpt_checkpoints_total', { vm: 'vm-a', kind: 'periodic' })).toBe(6);
    expect(value('uckpt_checkpoints_total', { vm: 'vm-a', kind: 'manual' })).toBe(1);
    expect(value('uckpt_epochs_total', { vm: 'vm-b' })).toBe(1);
    expect(value('uckpt_dirty_pages_total', { vm: 'vm-b' })).toBe(1);
    expect(value('uckpt_checkpoints_total', { vm: 'vm-b', kind: 'manual' })).toBe(0);
  });

  it('publishes the last epoch’s gauges in base units', async () => {
    const metrics = fed([epoch('vm-a', 1, { storeBytes: 1 }), epoch('vm-a', 2, { intervalMs: 20, overheadPct: 12.5 })]);
    const { value } = await scrape(metrics);
    expect(value('uckpt_checkpoint_store_bytes', { vm: 'vm-a' })).toBe(65_536);
    expect(value('uckpt_checkpoints_retained', { vm: 'vm-a' })).toBe(8);
    expect(value('uckpt_checkpoint_interval_seconds', { vm: 'vm-a' })).toBe(0.02);
    expect(value('uckpt_guest_progress_rate', { vm: 'vm-a' })).toBe(1234.5);
    expect(value('uckpt_overhead_ratio', { vm: 'vm-a' })).toBe(0.125);
  });

  it('leaves the overhead out while it is unknown', async () => {
    const metrics = fed([epoch('vm-a', 1, { overheadPct: 5 }), epoch('vm-a', 2, { overheadPct: null })]);
    const { value } = await scrape(metrics);
    expect(value('uckpt_overhead_ratio', { vm: 'vm-a' })).toBeUndefined();
    expect(value('uckpt_guest_progress_rate', { vm: 'vm-a' })).toBe(1234.5);
  });

  it('puts pauses in a histogram in seconds, 50 µs to 100 ms', async () => {
    const metrics = fed([40, 200, 200, 3000, 250_000].map((pauseUs, i) => epoch('vm-a', i + 1, { pauseUs })));
    const { samples, value } = await scrape(metrics);
    const buckets = samples
      .filter((s) => s.name === 'uckpt_pause_duration_seconds_bucket' && s.labels.vm === 'vm-a')
      .map((s) => [s.labels.le, s.value]);
    expect(buckets).toEqual([
      ['0.00005', 1],
      ['0.0001', 1],
      ['0.00025', 3],
      ['0.0005', 3],
      ['0.001', 3],
      ['0.0025', 3],
      ['0.005', 4],
      ['0.01', 4],
      ['0.025', 4],
      ['0.05', 4],
      ['0.1', 4],
      ['+Inf', 5],
    ]);
    expect(value('uckpt_pause_duration_seconds_count', { vm: 'vm-a' })).toBe(5);
    expect(value('uckpt_pause_duration_seconds_sum', { vm: 'vm-a' })).toBeCloseTo(0.25344, 9);
  });

  it('counts rollbacks by cause and result, and times them from 100 µs to 10 s', async () => {
    const metrics = fed([
      rollback(),
      rollback({ cause: 'recovery', durationUs: 20_000_000 }),
      { type: 'rollback', vmId: 'vm-a', time: 2, target: 'safe', cause: 'recovery', ok: false, error: 'checksum mismatch' },
      alert('checksum'),
      alert('checksum'),
      alert('heartbeat'),
    ]);
    const { samples, value } = await scrape(metrics);
    expect(value('uckpt_rollbacks_total', { vm: 'vm-a', cause: 'operator', result: 'ok' })).toBe(1);
    expect(value('uckpt_rollbacks_total', { vm: 'vm-a', cause: 'recovery', result: 'ok' })).toBe(1);
    expect(value('uckpt_rollbacks_total', { vm: 'vm-a', cause: 'recovery', result: 'error' })).toBe(1);
    expect(value('uckpt_rollback_duration_seconds_count', { vm: 'vm-a' })).toBe(2);
    expect(value('uckpt_rollback_duration_seconds_sum', { vm: 'vm-a' })).toBeCloseTo(20.0015, 9);
    const les = samples.filter((s) => s.name === 'uckpt_rollback_duration_seconds_bucket' && s.labels.vm === 'vm-a');
    expect(les[0]).toMatchObject({ labels: { le: '0.0001' }, value: 0 });
    expect(les.find((s) => s.labels.le === '0.0025')?.value).toBe(1);
    expect(les.at(-2)).toMatchObject({ labels: { le: '10' }, value: 1 });
    expect(les.at(-1)).toMatchObject({ labels: { le: '+Inf' }, value: 2 });
    expect(value('uckpt_alerts_total', { vm: 'vm-a', detector: 'checksum' })).toBe(2);
    expect(value('uckpt_alerts_total', { vm: 'vm-a', detector: 'heartbeat' })).toBe(1);
  });

  it('publishes VM info and a one-hot state that follows vm-state events', async () => {
    const metrics = fed([]);
    let { samples, value } = await scrape(metrics);
    expect(value('uckpt_vm_info', { vm: 'vm-a' })).toBe(1);
    expect(samples.find((s) => s.name === 'uckpt_vm_info' && s.labels.vm === 'vm-b')?.labels).toEqual({
      vm: 'vm-b',
      name: 'db-1',
      backend: 'sim',
    });
    const states = (vm: string) =>
      Object.fromEntries(samples.filter((s) => s.name === 'uckpt_vm_state' && s.labels.vm === vm).map((s) => [s.labels.state, s.value]));
    expect(Object.keys(states('vm-a')).sort()).toEqual([...vmStates].sort());
    expect(Object.entries(states('vm-a')).filter(([, v]) => v === 1)).toEqual([['running', 1]]);
    expect(Object.entries(states('vm-b')).filter(([, v]) => v === 1)).toEqual([['calibrating', 1]]);

    metrics.observe({ type: 'vm-state', vmId: 'vm-a', time: 2, state: 'failed', reason: 'agent died' });
    ({ samples, value } = await scrape(metrics));
    expect(Object.entries(states('vm-a')).filter(([, v]) => v === 1)).toEqual([['failed', 1]]);
    expect(value('uckpt_vm_state', { vm: 'vm-a', state: 'running' })).toBe(0);
  });

  it('starts a listed VM’s counters at zero so that rate() sees its first epochs', async () => {
    const { value } = await scrape(fed([]));
    for (const name of ['uckpt_epochs_total', 'uckpt_dirty_pages_total', 'uckpt_pages_copied_total', 'uckpt_pages_copied_ahead_total', 'uckpt_write_faults_total']) {
      expect(value(name, { vm: 'vm-b' })).toBe(0);
    }
    expect(value('uckpt_checkpoints_total', { vm: 'vm-b', kind: 'periodic' })).toBe(0);
  });

  it('drops every series of a removed VM, and of VMs no longer listed', async () => {
    const events: TelemetryEvent[] = [
      epoch('vm-a', 1),
      epoch('vm-b', 1),
      rollback(),
      rollback({ vmId: 'vm-b', ok: false, error: 'x' }),
      alert('checksum'),
      { type: 'checkpoint', vmId: 'vm-a', time: 1, seq: 2, pages: 1, bytes: 4096, manual: true },
    ];
    const metrics = fed(events);
    metrics.removeVm('vm-a');
    let { samples } = await scrape(metrics);
    expect(samples.filter((s) => s.labels.vm === 'vm-a')).toEqual([]);
    expect(samples.filter((s) => s.labels.vm === 'vm-b').length).toBeGreaterThan(20);

    metrics.setVms([{ ...vmA, id: 'vm-c' }]);
    ({ samples } = await scrape(metrics));
    expect(new Set(samples.map((s) => s.labels.vm))).toEqual(new Set(['vm-c']));
    expect(samples.find((s) => s.name === 'uckpt_vm_info')?.labels).toEqual({ vm: 'vm-c', name: 'web-1', backend: 'kvm' });
  });

  it('never labels a series with a checkpoint seq', async () => {
    const metrics = fed([
      epoch('vm-a', 123_456),
      { type: 'checkpoint', vmId: 'vm-a', time: 1, seq: 123_457, pages: 3, bytes: 12_288, manual: true },
      rollback({ target: 123_450, seq: 123_450 }),
      rollback({ target: 'safe', seq: 123_440 }),
    ]);
    const { samples } = await scrape(metrics);
    const labelValues = samples.flatMap((s) => Object.entries(s.labels).filter(([name]) => name !== 'le'));
    expect(labelValues.map(([name]) => name).filter((n) => !['vm', 'kind', 'cause', 'result', 'detector', 'name', 'backend', 'state'].includes(n))).toEqual([]);
    expect(labelValues.filter(([, v]) => /1234/.test(v))).toEqual([]);
  });

  it('names every metric with the uckpt_ prefix and base units, counters with _total', async () => {
    const metrics = new TelemetryMetrics();
    metrics.setVms([vmA]);
    metrics.observe(epoch('vm-a', 1));
    const text = await metrics.render();
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({ name: name as string, type: type as string }));
    expect(types.length).toBeGreaterThan(20);
    for (const { name, type } of types) {
      expect(name).toMatch(/^uckpt_/);
      if (type === 'counter') expect(name).toMatch(/_total$/);
      else expect(name).not.toMatch(/_total$/);
      expect(name).not.toMatch(/_(ms|us|milliseconds|microseconds|kib|mib)(_|$)/);
    }
    // Process metrics are there, under their own prefix.
    expect(types.some(({ name }) => name === 'uckpt_process_resident_memory_bytes')).toBe(true);
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('passes `promtool check metrics`, process metrics and every VM series included', async () => {
    const metrics = new TelemetryMetrics();
    metrics.setVms([vmA]);
    metrics.observe(epoch('vm-a', 1));
    const promtool = promtoolPath();
    const result = spawnSync(promtool, ['check', 'metrics'], { input: await metrics.render(), encoding: 'utf8' });
    expect(result.error, `${promtool}: run scripts/setup.sh --tests to install it`).toBeUndefined();
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.status).toBe(0);
  });
});

/** Prometheus's own checker: scripts/setup.sh --tests unpacks it from Debian's package into .cache/. */
function promtoolPath(): string {
  const unpacked = fileURLToPath(new URL('../../../.cache/prometheus/usr/bin/promtool', import.meta.url));
  return existsSync(unpacked) ? unpacked : 'promtool';
}
