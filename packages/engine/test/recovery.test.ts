// Detectors and latency-aware recovery in a VmAgent over the simulated
// backend (a labelled test double whose faults follow a fixed schedule):
// each detector fires on its fault and not on a healthy run; recovery
// rolls back past the checkpoints a late detection left corrupted; alert
// only when recovery is off. KVM runs of the same are in the server tests.
import { afterEach, describe, expect, it } from 'vitest';
import {
  chooseRecoveryTarget,
  defaultSettings,
  HeartbeatDetector,
  SimBackend,
  VmAgent,
  type AlertEvent,
  type BackendCheckpoint,
  type CheckpointSettings,
  type RecoveryEvent,
  type RollbackEvent,
  type TelemetryEvent,
  type VmSpec,
} from '../src/index.js';

const spec: VmSpec = { name: 'sim', backend: 'sim', workload: 'graph', memoryMiB: 64, vcpus: 1, seed: 7, size: 0, param: 0, repeat: 0 };

let agents: VmAgent[] = [];
afterEach(() => {
  for (const agent of agents) agent.stop();
  agents = [];
});

function startAgent(settings: Partial<CheckpointSettings> = {}, specPatch: Partial<VmSpec> = {}) {
  const agent = new VmAgent({
    vmId: 'vm-1',
    spec: { ...spec, ...specPatch },
    settings: { ...defaultSettings, intervalMs: 50, retention: 32, hangTimeoutMs: 400, recurrenceWindowMs: 1500, ...settings },
    backend: new SimBackend(),
    calibrationMs: 100,
  });
  const events: TelemetryEvent[] = [];
  agent.on('telemetry', (event) => events.push(event));
  agents.push(agent);
  agent.start();
  return { agent, events };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until<T>(probe: () => T, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const ofType = <T extends TelemetryEvent['type']>(events: TelemetryEvent[], type: T) =>
  events.filter((e): e is Extract<TelemetryEvent, { type: T }> => e.type === type);

describe('choosing the recovery target', () => {
  const at = (seq: number, time: number, verified = true): BackendCheckpoint => ({ seq, time, pages: 1, bytes: 4096, verified });
  const ring = [at(1, 100), at(2, 200), at(3, 300, false), at(4, 400), at(5, 500)];

  it('takes the newest verified checkpoint taken at or before detection minus the bound', () => {
    expect(chooseRecoveryTarget(ring, { notAfter: 450 })).toEqual({ checkpoint: ring[3], beforeBound: true });
    expect(chooseRecoveryTarget(ring, { notAfter: 400 })?.checkpoint.seq).toBe(4);
  });

  it('never takes a corrupt checkpoint, and goes older than the one that did not help', () => {
    expect(chooseRecoveryTarget(ring, { notAfter: 399 })?.checkpoint.seq).toBe(2);
    expect(chooseRecoveryTarget(ring, { notAfter: 1000, olderThan: 4 })?.checkpoint.seq).toBe(2);
    expect(chooseRecoveryTarget(ring, { notAfter: 1000, olderThan: 1 })).toBeNull();
  });

  it('falls back to the oldest retained, flagged, when none was taken early enough', () => {
    expect(chooseRecoveryTarget(ring, { notAfter: 50 })).toEqual({ checkpoint: ring[0], beforeBound: false });
    expect(chooseRecoveryTarget([], { notAfter: 50 })).toBeNull();
  });
});

describe('heartbeat', () => {
  const progress = (units: number) => ({ units, runsDone: 0, lastChecksum: null });
  const observe = (detector: HeartbeatDetector, now: number, units: number, state: 'running' | 'calibrating' | 'finished' = 'running') =>
    detector.observe({ now, state, progress: progress(units), checkpoints: [], consoleLines: [], vcpus: null, settings: { ...defaultSettings, hangTimeoutMs: 1000 } });

  it('fires once per stall, only on a running guest', () => {
    const detector = new HeartbeatDetector(250);
    expect(observe(detector, 0, 5)).toEqual([]);
    // Calibrating, then finished: no progress is no hang.
    expect(observe(detector, 2000, 5, 'calibrating')).toEqual([]);
    expect(observe(detector, 4000, 5, 'finished')).toEqual([]);
    expect(observe(detector, 4500, 5)).toEqual([]);
    expect(observe(detector, 4900, 5)).toEqual([]);
    const [alert] = observe(detector, 5100, 5);
    expect(alert).toMatchObject({ detector: 'heartbeat', recoverable: true, evidence: { stalledMs: 1100, hangTimeoutMs: 1000 } });
    expect(alert!.latencyBoundMs).toBe(1350);
    expect(observe(detector, 9000, 5)).toEqual([]);
    expect(observe(detector, 9100, 6)).toEqual([]);
    expect(observe(detector, 10_200, 6)).toHaveLength(1);
  });
});

describe('detectors and recovery on the simulated backend', () => {
  it('a healthy run raises no alert, and a finite run that ends is no hang', async () => {
    const { agent, events } = startAgent({}, { repeat: 1 });
    await until(() => agent.state === 'finished', 'the finite run to finish', 8000);
    await sleep(800);
    expect(ofType(events, 'alert')).toEqual([]);
    expect(agent.status().progress.lastChecksum).toMatch(/^[0-9a-f]{16}$/);
  });

  it('heartbeat: a hang is detected and rolled back to a checkpoint from before it', async () => {
    const { agent, events } = startAgent();
    await until(() => agent.state === 'running' && agent.checkpoints().length > 15, 'checkpoints');
    const injection = await agent.inject({ kind: 'hang' });
    const alert = await until(() => ofType(events, 'alert')[0], 'the heartbeat alert');
    expect(alert).toMatchObject({ detector: 'heartbeat', action: 'rollback', injectionId: injection.id });
    const rollback = await until(() => ofType(events, 'rollback')[0], 'the recovery rollback');
    expect(rollback).toMatchObject({ cause: 'recovery', ok: true });
    const outcome = await until(() => ofType(events, 'recovery').find((e) => e.outcome !== 'recurred'), 'the outcome');
    expect(outcome).toMatchObject({ outcome: 'recovered', rollbacks: 1, alertId: alert.alertId });
    // Progressing again from a checkpoint taken before the hang.
    const units = agent.status().progress.units;
    await sleep(300);
    expect(agent.status().progress.units).toBeGreaterThan(units);
    const [record] = agent.injections();
    expect(record).toMatchObject({ status: 'detected', detection: { detector: 'heartbeat' }, recovery: { outcome: 'recovered', rollbacks: 1 } });
    expect(record!.detection!.latencyMs).toBeGreaterThanOrEqual(400);
  });

  it('crash: the guest is revived from the newest checkpoint before the crash', async () => {
    const { agent, events } = startAgent({ crashLatencyMs: 0 });
    await until(() => agent.state === 'running' && agent.checkpoints().length > 3, 'checkpoints');
    await agent.inject({ kind: 'crash' });
    const alert = await until(() => ofType(events, 'alert')[0], 'the crash alert');
    expect(alert).toMatchObject({ detector: 'crash', action: 'rollback', latencyBoundMs: 0 });
    await until(() => ofType(events, 'recovery').find((e) => e.outcome === 'recovered'), 'recovered');
    expect(agent.state).toBe('running');
    const states = ofType(events, 'vm-state').map((e) => e.state);
    expect(states.slice(-2)).toEqual(['crashed', 'running']);
  });

  it('self-check detected late: with a bound that covers the latency, one rollback past the corrupted checkpoints', async () => {
    // The simulated self-check finds a flipped data bit 200 ms (four 50 ms checkpoints) later.
    const { agent, events } = startAgent({ selfCheckLatencyMs: 400 }, { repeat: 2 });
    await until(() => agent.state === 'running' && agent.checkpoints().length > 12, 'checkpoints');
    const injection = await agent.inject({ kind: 'bit-flip', region: 'data', bits: 2 });
    const alert = await until(() => ofType(events, 'alert')[0], 'the self-check alert');
    expect(alert).toMatchObject({ detector: 'self-check', latencyBoundMs: 400, action: 'rollback' });
    const taken = ofType(events, 'epoch').filter((e) => e.time > injection.time && e.time < alert.time).length;
    expect(taken).toBeGreaterThanOrEqual(3);
    const rollback = await until(() => ofType(events, 'rollback')[0], 'the rollback');
    expect(rollback.ok).toBe(true);
    await until(() => agent.state === 'finished', 'the run to finish', 10_000);
    expect(ofType(events, 'rollback')).toHaveLength(1);
    expect(agent.status().progress.lastChecksum).toBe(await healthyChecksum(2));
    expect(agent.injections()[0]).toMatchObject({ status: 'detected', recovery: { outcome: 'recovered', rollbacks: 1 } });
  });

  it('self-check detected late with a bound too short: the error recurs and recovery falls back older until it is gone', async () => {
    const { agent, events } = startAgent({ selfCheckLatencyMs: 0 }, { repeat: 2 });
    await until(() => agent.state === 'running' && agent.checkpoints().length > 12, 'checkpoints');
    await agent.inject({ kind: 'bit-flip' });
    await until(() => agent.state === 'finished', 'the run to finish', 15_000);
    const rollbacks = ofType(events, 'rollback');
    expect(rollbacks.length).toBeGreaterThan(1);
    // Each fall back went to an older checkpoint than the one before.
    const seqs = rollbacks.map((r) => r.seq!);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeLessThan(seqs[i - 1]!);
    expect(ofType(events, 'recovery').filter((e) => e.outcome === 'recurred')).toHaveLength(rollbacks.length - 1);
    expect(agent.status().progress.lastChecksum).toBe(await healthyChecksum(2));
  });

  it('checkpoint integrity: a corrupted stored page is reported, that checkpoint skipped, an older one used', async () => {
    // Checkpoints taken by hand: no timer adds a newer one between the corruption and the crash.
    const { agent, events } = startAgent({ crashLatencyMs: 0, intervalMs: 10_000 });
    await until(() => agent.state === 'running', 'running');
    for (let i = 0; i < 4; i++) await agent.checkpointNow();
    const newest = agent.checkpoints().at(-1)!.seq;
    const corrupted = await agent.inject({ kind: 'checkpoint-page', seq: newest, page: 3 });
    await agent.inject({ kind: 'crash' });
    const integrity = await until(() => ofType(events, 'alert').find((e) => e.detector === 'checkpoint-integrity'), 'the integrity alert');
    expect(integrity).toMatchObject({ action: 'none', evidence: { seq: newest }, injectionId: corrupted.id });
    const rollbacks = await until(() => (ofType(events, 'rollback').some((r) => r.ok) ? ofType(events, 'rollback') : null), 'a rollback that worked');
    expect(rollbacks[0]).toMatchObject({ ok: false, target: newest });
    expect(rollbacks.find((r) => r.ok)!.seq).toBeLessThan(newest);
    expect(agent.checkpoints().find((c) => c.seq === newest)).toBeUndefined();
  });

  it('recovery off: alert only, nothing rolled back', async () => {
    const { agent, events } = startAgent({ autoRecover: false });
    await until(() => agent.state === 'running' && agent.checkpoints().length > 3, 'checkpoints');
    await agent.inject({ kind: 'crash' });
    const alert: AlertEvent = await until(() => ofType(events, 'alert')[0], 'the alert');
    expect(alert).toMatchObject({ detector: 'crash', action: 'none', actionReason: expect.stringMatching(/recovery is off/) });
    await sleep(300);
    expect(ofType(events, 'rollback')).toEqual([]);
    expect(agent.state).toBe('crashed');
    expect(agent.injections()[0]).toMatchObject({ status: 'detected', recovery: { outcome: 'alert-only' } });
  });

  it('no checkpoint left: the VM is failed and the reason says why', async () => {
    const { agent, events } = startAgent({ enabled: false });
    await until(() => agent.state === 'running', 'running');
    await agent.inject({ kind: 'crash' });
    const outcome: RecoveryEvent = await until(() => ofType(events, 'recovery')[0], 'the outcome');
    expect(outcome).toMatchObject({ outcome: 'failed', message: 'no checkpoint is retained' });
    expect(agent.state).toBe('failed');
    expect(agent.status().reason).toMatch(/recovery failed after crash alert .*no checkpoint is retained/);
    expect(ofType(events, 'alert')[0]).toMatchObject({ action: 'failed' });
  });

  it('"safe" is the newest checkpoint older than the slowest latency bound', async () => {
    const { agent, events } = startAgent({ hangTimeoutMs: 300, selfCheckLatencyMs: 200 });
    await until(() => agent.state === 'running' && agent.checkpoints().length > 25, 'checkpoints');
    const before = Date.now();
    const result = await agent.rollback('safe');
    const chosen = ofType(events, 'rollback').at(-1) as RollbackEvent;
    expect(chosen).toMatchObject({ target: 'safe', ok: true, seq: result.seq });
    // heartbeat: 300 + 2 x 250 ms sampling is the slowest bound.
    const remaining = agent.checkpoints();
    expect(remaining.at(-1)!.seq).toBe(result.seq);
    expect(remaining.at(-1)!.time).toBeLessThanOrEqual(before - 800);
  });

  it('bad fault requests are refused and change nothing', async () => {
    const { agent } = startAgent();
    await until(() => agent.state === 'running', 'running');
    await expect(agent.inject({ kind: 'melt' as never })).rejects.toThrow(/kind must be one of/);
    await expect(agent.inject({ kind: 'hang', bits: 3 })).rejects.toThrow(/bits does not apply to a hang fault/);
    await expect(agent.inject({ kind: 'bit-flip', bits: 0 })).rejects.toThrow(/bits must be an integer from 1 to 64/);
    await expect(agent.inject({ kind: 'checkpoint-page', seq: 999_999 })).rejects.toThrow(/not retained/);
    expect(agent.injections()).toEqual([]);
  });
});

/** The checksum of the same finite run with no fault. */
async function healthyChecksum(repeat: number): Promise<string> {
  const { agent } = startAgent({}, { repeat });
  await until(() => agent.state === 'finished', 'the healthy run to finish', 10_000);
  return agent.status().progress.lastChecksum!;
}
