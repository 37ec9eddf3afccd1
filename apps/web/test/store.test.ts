import { describe, expect, it, vi } from 'vitest';
import { type Scheduler, TelemetryStore } from '../src/telemetry/store.ts';
import { epoch, vmView } from './helpers.ts';

function manualScheduler() {
  let fn: (() => void) | null = null;
  let now = 1_000_000;
  const s: Scheduler & { tick(): void; advance(ms: number): void; running(): boolean } = {
    setInterval: (f) => {
      fn = f;
      return 1;
    },
    clearInterval: () => {
      fn = null;
    },
    now: () => now,
    tick: () => fn?.(),
    advance: (ms) => {
      now += ms;
    },
    running: () => fn !== null,
  };
  return s;
}

describe('TelemetryStore', () => {
  it('batches any number of events into one publish per interval, and none when idle', () => {
    const sched = manualScheduler();
    const store = new TelemetryStore(sched);
    const listener = vi.fn();
    const unsubscribe = store.subscribe(listener);
    store.setVms([vmView('vm-1')]);
    for (let i = 0; i < 100; i++) store.ingest(epoch('vm-1', 1_000_000 + i * 5));
    expect(listener).not.toHaveBeenCalled();
    const v0 = store.getVersion();
    sched.tick();
    expect(listener).toHaveBeenCalledTimes(1);
    expect(store.getVersion()).toBe(v0 + 1);
    sched.tick();
    expect(listener).toHaveBeenCalledTimes(1);
    unsubscribe();
    expect(sched.running()).toBe(false);
  });

  it('publishes connection changes at once', () => {
    const store = new TelemetryStore(manualScheduler());
    const listener = vi.fn();
    store.subscribe(listener);
    store.setConnection({ status: 'live', attempt: 0, retryAt: null });
    expect(listener).toHaveBeenCalledTimes(1);
    expect(store.connection.status).toBe('live');
  });

  it('applies epochs, checkpoints and state changes to the VM as new objects', () => {
    const store = new TelemetryStore(manualScheduler());
    store.setVms([vmView('vm-1')]);
    const before = store.vm('vm-1')!;
    store.ingest(epoch('vm-1', 5000, { seq: 42, overheadPct: 3.5, progressRate: 77, storeBytes: 4096, checkpointsRetained: 5, intervalMs: 20 }));
    const after = store.vm('vm-1')!;
    expect(after).not.toBe(before);
    expect(after.overheadPct).toBe(3.5);
    expect(after.progress.rate).toBe(77);
    expect(after.epochs).toBe(42);
    expect(after.settings.intervalMs).toBe(20);
    expect(after.lastCheckpointTime).toBe(5000);
    expect(store.vms[0]).toBe(after);
    store.ingest({ type: 'vm-state', vmId: 'vm-1', time: 6000, state: 'failed', reason: 'guest triple fault' });
    expect(store.vm('vm-1')!.state).toBe('failed');
    expect(store.vm('vm-1')!.reason).toBe('guest triple fault');
    expect(store.events('vm-1').map((e) => e.type)).toEqual(['vm-state']);
    expect(store.series('vm-1').latest?.seq).toBe(42);
  });

  it('unpacks coalesced frames and counts what was missed', () => {
    const store = new TelemetryStore(manualScheduler());
    store.setVms([vmView('vm-1')]);
    store.ingestFrame({
      type: 'coalesced',
      missed: 12,
      events: [epoch('vm-1', 10, { seq: 9 }), { type: 'alert', vmId: 'vm-1', time: 11, detector: 'hang', message: 'no progress', evidence: {}, latencyBoundMs: 500, action: 'rollback' }],
    });
    expect(store.missed).toBe(12);
    expect(store.series('vm-1').latest?.seq).toBe(9);
    expect(store.events('vm-1')[0]?.type).toBe('alert');
  });

  it('ignores frames that are not events', () => {
    const store = new TelemetryStore(manualScheduler());
    store.ingestFrame(null);
    store.ingestFrame({ type: 'error', error: { code: 'x' } });
    store.ingestFrame({ type: 'epoch' });
    expect(store.vms).toHaveLength(0);
  });

  it('asks for the list when an event names an unknown VM', () => {
    const store = new TelemetryStore(manualScheduler());
    const unknown = vi.fn();
    store.onUnknownVm = unknown;
    store.ingest(epoch('vm-9', 1)); // list not loaded yet: nothing to compare with
    expect(unknown).not.toHaveBeenCalled();
    store.setVms([]);
    store.ingest(epoch('vm-9', 2));
    expect(unknown).toHaveBeenCalledWith('vm-9');
  });

  it('bounds the console and the event lists', () => {
    const store = new TelemetryStore(manualScheduler());
    for (let i = 0; i < 600; i++) store.ingest({ type: 'console', vmId: 'vm-1', time: i, line: `line ${i}` });
    expect(store.console('vm-1')).toHaveLength(500);
    expect(store.console('vm-1').at(-1)).toBe('line 599');
    for (let i = 0; i < 250; i++) store.ingest({ type: 'rollback', vmId: 'vm-1', time: i, target: 'latest', cause: 'operator', ok: true });
    expect(store.events('vm-1')).toHaveLength(200);
  });

  it('drops the series of VMs that are gone and estimates the server clock', () => {
    const sched = manualScheduler();
    const store = new TelemetryStore(sched);
    store.setVms([vmView('a'), vmView('b', { createdAt: 0 })]);
    expect(store.vms.map((v) => v.id)).toEqual(['b', 'a']);
    store.ingest(epoch('a', sched.now() + 2000));
    expect(store.serverNow()).toBe(sched.now() + 2000);
    const s = store.series('a');
    store.setVms([vmView('b')]);
    expect(store.series('a')).not.toBe(s);
    store.removeVm('b');
    expect(store.vms).toHaveLength(0);
  });

  it('backfills a series from recent epochs, then the live ones that came meanwhile, without doubles', () => {
    const sched = manualScheduler();
    const store = new TelemetryStore(sched);
    store.setVms([vmView('a')]);
    const t0 = 1_000_000;
    // Live before the backfill began, live while it was in flight, and the server's recent epochs.
    store.ingest(epoch('a', t0 + 58_000, { seq: 58 }));
    expect(store.beginBackfill('a')).toBe(true);
    expect(store.beginBackfill('a')).toBe(false);
    store.ingest(epoch('a', t0 + 59_000, { seq: 59 }));
    store.ingest(epoch('a', t0 + 60_000, { seq: 60 }));
    const recent = Array.from({ length: 60 }, (_, i) => epoch('a', t0 + i * 1000, { seq: i, dirtyPages: 7 }));
    store.backfill('a', recent);
    const points = store.series('a').points('1m', t0 + 60_500).filter((p) => p.epochs !== null && p.epochs > 0);
    // One point per second over the last minute: each epoch counted once,
    // the server's seq 1-59 (the live 58 and 59 among them), then the live seq 60.
    expect(points).toHaveLength(60);
    expect(points.every((p) => p.epochs === 1)).toBe(true);
    expect(points.map((p) => p.dirty)).toEqual([...Array(59).fill(7), 100]);
    expect(store.series('a').latest?.seq).toBe(60);
    // Once per VM; a failed fetch leaves the live series as it is.
    expect(store.beginBackfill('a')).toBe(false);
    store.setVms([vmView('a'), vmView('b')]);
    store.ingest(epoch('b', t0, { seq: 1 }));
    expect(store.beginBackfill('b')).toBe(true);
    store.backfill('b', null);
    expect(store.series('b').latest?.seq).toBe(1);
  });
});

describe('formatting', async () => {
  const { fmtAge, fmtBytes, fmtPct, fmtUs } = await import('../src/format.ts');
  it('gives units and never a negative zero', () => {
    expect(fmtPct(-0.01)).toBe('0.0 %');
    expect(fmtPct(null)).toBe('–');
    expect(fmtBytes(1536)).toBe('1.5 KiB');
    expect(fmtBytes(3 * 1048576)).toBe('3.0 MiB');
    expect(fmtUs(850)).toBe('850 µs');
    expect(fmtUs(12_540)).toBe('12.54 ms');
    expect(fmtAge(1900)).toBe('1.9 s');
    expect(fmtAge(125_000)).toBe('2 min 5 s');
  });
});
