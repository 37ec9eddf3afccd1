// Detectors and recovery on real KVM VMs through the API: no alert on a
// healthy finite run of any workload; a data corruption caught by the
// guest's own self-check and recovered; a hang caught by the heartbeat many checkpoints
// late, recovered past the checkpoints that hold it, the run ending with
// the host program's checksum (the correctness oracle); a crash revived;
// a corrupted stored page refused and skipped; alert only when recovery is
// off. Faults come from @uckpt/native-kvm's injection primitives.
import { defaultSettings } from '@uckpt/engine';
import { runOnHost } from '@uckpt/guest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { asOperator, describeKvm, emulated, startServer, until, type TestServer } from './helper.js';

// Under emulation (e2e/kvm-rig) graph at a quarter of its default size, and
// the detectors' settings an emulated host gets by default (a slowed guest
// goes seconds between progress ticks), with history reaching past them.
const workload = { workload: 'graph', seed: 5, memoryMiB: emulated ? 256 : 512, ...(emulated && { size: 160 }) };
const settings = emulated
  ? { intervalMs: 50, retention: 256, hangTimeoutMs: 5000, recurrenceWindowMs: 15_000, crashLatencyMs: 0 }
  : { intervalMs: 50, retention: 64, hangTimeoutMs: 500, recurrenceWindowMs: 2500, crashLatencyMs: 0 };

describeKvm('faults, detection and recovery on KVM', () => {
  let server: TestServer;
  let hostChecksum: string;

  beforeAll(async () => {
    server = await startServer({ rateLimits: { mutationsPerMinute: 10_000 } });
    hostChecksum = (await runOnHost({ workload: workload.workload, seed: workload.seed, ...(workload.size !== undefined && { size: workload.size }) })).checksum;
  });
  afterAll(async () => server?.close());

  async function get(url: string) {
    const answer = await server.app.inject({ method: 'GET', url, headers: asOperator });
    expect(answer.statusCode, answer.body).toBe(200);
    return answer.json();
  }

  async function createVm(name: string, repeat: number, extra: Record<string, unknown> = {}): Promise<string> {
    const created = await server.app.inject({
      method: 'POST',
      url: '/api/vms',
      headers: asOperator,
      payload: { name, ...workload, repeat, settings: { ...settings, ...extra } },
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    await until(async () => (await get(`/api/vms/${id}/checkpoints`)).checkpoints.length >= 10, 'ten checkpoints');
    return id;
  }

  const inject = async (id: string, payload: object) => {
    const answer = await server.app.inject({ method: 'POST', url: `/api/vms/${id}/faults`, headers: asOperator, payload });
    expect(answer.statusCode, answer.body).toBe(201);
    return answer.json();
  };
  const events = async (id: string, types: string) =>
    (await get(`/api/vms/${id}/events?types=${types}&limit=1000`)).events.map((row: { event: Record<string, unknown> }) => row.event).reverse();
  const finished = (id: string) => until(async () => {
    const vm = await get(`/api/vms/${id}`);
    return ['finished', 'failed', 'stopped'].includes(vm.state) ? vm : null;
  }, 'the run to end', 90_000);

  it('a healthy finite run raises no alert and ends with the host checksum', async () => {
    const id = await createVm('healthy', 2);
    const vm = await finished(id);
    expect(vm.state).toBe('finished');
    expect(vm.progress.lastChecksum).toBe(hostChecksum);
    expect(await events(id, 'alert')).toEqual([]);
  });

  // One short finite run of every workload (about a second each; the
  // time-driven dirtier-phases takes ~10 s and shares dirtier's code), at
  // the default detection settings: no detector may fire on a healthy guest.
  const healthySizes: Record<string, number> = emulated
    ? { hashtable: 8, sort: 1, graph: 64, compress: 6, dp: 300, dirtier: 8 }
    : { hashtable: 32, sort: 3, graph: 256, compress: 24, dp: 1200, dirtier: 32 };

  it('no detector fires on a healthy run of any workload, and each ends with its host checksum', async () => {
    for (const [name, size] of Object.entries(healthySizes)) {
      const created = await server.app.inject({
        method: 'POST',
        url: '/api/vms',
        headers: asOperator,
        payload: { name: `healthy-${name}`, workload: name, seed: 3, size, memoryMiB: 256, repeat: 1, settings: { intervalMs: 50 } },
      });
      expect(created.statusCode, created.body).toBe(201);
      const id = created.json().id as string;
      const vm = await finished(id);
      const host = await runOnHost({ workload: name, seed: 3, size });
      expect(vm.state, `${name}: ${vm.reason}`).toBe('finished');
      expect(vm.progress.lastChecksum, name).toBe(host.checksum);
      expect(await events(id, 'alert'), name).toEqual([]);
    }
  });

  it("a corrupted byte in dp's read-only data is caught by the guest's own self-check and recovered", async () => {
    const dp = { workload: 'dp', seed: 7, size: 4000, memoryMiB: 256 };
    const host = await runOnHost(dp);
    const created = await server.app.inject({
      method: 'POST',
      url: '/api/vms',
      headers: asOperator,
      payload: { name: 'self-check', ...dp, repeat: 1, settings },
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    await until(async () => (await get(`/api/vms/${id}/checkpoints`)).checkpoints.length >= 5, 'five checkpoints');
    // Pages 0-9 of dp's data hold its query profile: read-only once built, checked every 32 sequences.
    const injection = await inject(id, { kind: 'bit-flip', region: 'data', page: 3, seed: 11 });
    const alert = await until(async () => (await events(id, 'alert')).find((e: { detector: string }) => e.detector === 'self-check'), 'the self-check alert');
    expect(alert).toMatchObject({ action: 'rollback', injectionId: injection.id, latencyBoundMs: defaultSettings.selfCheckLatencyMs });
    // The guest's own words are the evidence.
    expect(alert.message).toMatch(/^guest-error: .*dp: /);
    expect(alert.evidence.message).toMatch(/dp: /);
    const vm = await finished(id);
    expect(vm.state, vm.reason).toBe('finished');
    expect(vm.progress.lastChecksum).toBe(host.checksum);
    const [record] = (await get(`/api/vms/${id}/faults`)).injections;
    expect(record).toMatchObject({ status: 'detected', detection: { detector: 'self-check' }, recovery: { outcome: 'recovered' } });
  });

  it('a hang detected many checkpoints late: recovery goes past them and the run ends with the host checksum', async () => {
    const id = await createVm('hang', 2);
    const injection = await inject(id, { kind: 'hang' });
    expect(injection.effect.description).toMatch(/jmp-self loop/);
    const seqAtInjection = (await get(`/api/vms/${id}/checkpoints`)).checkpoints.at(-1).seq as number;

    const alert = await until(async () => (await events(id, 'alert')).find((e: { detector: string }) => e.detector === 'heartbeat'), 'the heartbeat alert');
    expect(alert).toMatchObject({ action: 'rollback', injectionId: injection.id });
    // The hang went on for at least the threshold: ten 50 ms checkpoints hold it.
    expect(alert.evidence.stalledMs).toBeGreaterThanOrEqual(500);
    expect(alert.latencyBoundMs).toBeGreaterThan(3 * settings.intervalMs);

    const vm = await finished(id);
    expect(vm.state, vm.reason).toBe('finished');
    expect(vm.progress.lastChecksum).toBe(hostChecksum);
    const rollbacks = (await events(id, 'rollback')).filter((e: { cause: string }) => e.cause === 'recovery');
    expect(rollbacks.length).toBeGreaterThanOrEqual(1);
    expect(rollbacks.at(-1)).toMatchObject({ ok: true });
    expect(rollbacks.at(-1).seq).toBeLessThanOrEqual(seqAtInjection);
    const [record] = (await get(`/api/vms/${id}/faults`)).injections;
    expect(record).toMatchObject({ status: 'detected', detection: { detector: 'heartbeat' }, recovery: { outcome: 'recovered' } });
  });

  it('a crash is detected and the guest revived; the run ends with the host checksum', async () => {
    const id = await createVm('crash', 2);
    const injection = await inject(id, { kind: 'crash' });
    const alert = await until(async () => (await events(id, 'alert')).find((e: { detector: string }) => e.detector === 'crash'), 'the crash alert');
    expect(alert).toMatchObject({ detector: 'crash', action: 'rollback', injectionId: injection.id, evidence: { cause: 'crash' } });
    const vm = await finished(id);
    expect(vm.state, vm.reason).toBe('finished');
    expect(vm.progress.lastChecksum).toBe(hostChecksum);
    const states = (await events(id, 'vm-state')).map((e: { state: string }) => e.state);
    expect(states).toEqual(expect.arrayContaining(['crashed', 'running', 'finished']));
  });

  it('a corrupted stored page: the rollback is refused, the checkpoint reported and never used', async () => {
    const id = await createVm('integrity', 0);
    // A checkpoint stores only the pages written around it: take one that holds the page the default picks.
    let newest = 0;
    const injection = await until(async () => {
      newest = (await get(`/api/vms/${id}/checkpoints`)).checkpoints.at(-2).seq as number;
      const answer = await server.app.inject({ method: 'POST', url: `/api/vms/${id}/faults`, headers: asOperator, payload: { kind: 'checkpoint-page', seq: newest } });
      if (answer.statusCode !== 201) expect(answer.json().error.message).toMatch(/holds no stored copy/);
      return answer.statusCode === 201 ? answer.json() : null;
    }, 'a checkpoint holding the mailbox or stack page');
    expect(injection.effect.details).toMatchObject({ seq: newest, pfn: expect.any(Number) });
    const refused = await server.app.inject({ method: 'POST', url: `/api/vms/${id}/rollback`, headers: asOperator, payload: { to: newest } });
    expect(refused.statusCode).toBe(409);
    const alert = await until(async () => (await events(id, 'alert')).find((e: { detector: string }) => e.detector === 'checkpoint-integrity'), 'the integrity alert');
    expect(alert).toMatchObject({ action: 'none', evidence: { seq: newest }, injectionId: injection.id });
    const safe = await server.app.inject({ method: 'POST', url: `/api/vms/${id}/rollback`, headers: asOperator, payload: { to: 'safe' } });
    expect(safe.statusCode, safe.body).toBe(200);
    expect(safe.json().seq).toBeLessThan(newest);
  });

  it('recovery off: a crash is alerted and the VM stays crashed', async () => {
    const id = await createVm('alert-only', 0, { autoRecover: false });
    await inject(id, { kind: 'crash' });
    // Found by detector: on a loaded host a 500 ms heartbeat may also speak up, and must not act either.
    const alert = await until(async () => (await events(id, 'alert')).find((e: { detector: string }) => e.detector === 'crash'), 'the crash alert');
    expect(alert).toMatchObject({ detector: 'crash', action: 'none' });
    for (const other of await events(id, 'alert')) expect(other.action).toBe('none');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await events(id, 'rollback')).toEqual([]);
    expect((await get(`/api/vms/${id}`)).state).toBe('crashed');
  });

  it('memory and register faults are injected with their evidence', async () => {
    // Each into a VM of its own: the guest may find flipped data bits, and crash, before a second injection lands.
    const [flips, registers] = await Promise.all([
      createVm('flips', 0, { autoRecover: false }),
      createVm('registers', 0, { autoRecover: false }),
    ]);
    const flip = await inject(flips, { kind: 'bit-flip', region: 'data', bits: 2, seed: 9 });
    expect(flip.effect.details).toMatchObject({ region: 'data', seed: 9, flips: [expect.objectContaining({ gpa: expect.any(Number) }), expect.anything()] });
    const register = await inject(registers, { kind: 'register', register: 'rbx', seed: 4 });
    expect(register.effect.details).toMatchObject({ register: 'rbx', oldValue: expect.stringMatching(/^0x/) });
  });
});
