// GET /api/model/availability: the answer's shape, overrides and their
// sources, parameters taken from a VM, and every kind of bad query. The VM
// uses the simulated backend (a labelled test double): this is about the
// HTTP layer; the model itself is tested in packages/engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOperator, asViewer, startServer, until, type TestServer } from './helper.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ rateLimits: { mutationsPerMinute: 10_000 } });
});

afterAll(async () => server?.close());

const get = (query = '', headers: Record<string, string> = asViewer) =>
  server.app.inject({ method: 'GET', url: `/api/model/availability${query}`, headers });

describe('GET /api/model/availability', () => {
  it('answers a viewer with the model at its defaults', async () => {
    const answer = await get();
    expect(answer.statusCode, answer.body).toBe(200);
    const body = answer.json();
    expect(body.availability).toBeGreaterThan(0);
    expect(body.availability).toBeLessThan(1);
    expect(body.unprotectedAvailability).toBeCloseTo(0.99, 3);
    expect(body.downtimeSecondsPerYear).toBeCloseTo((1 - body.availability) * 365.25 * 86_400, 3);
    expect(Number.isInteger(body.recommendedIntervalMs)).toBe(true);
    expect(body.recommendedAvailability).toBeGreaterThan(0.9997);
    expect(body.overheadBudgetPct).toBe(3);
    expect(body.curve.length).toBeGreaterThan(30);
    for (const point of body.curve) expect(Object.keys(point).sort()).toEqual(['availability', 'intervalMs', 'overheadPct']);
    expect(Object.values(body.states as Record<string, number>).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(body.parameters.intervalMs).toEqual({ value: 50, source: 'default' });
    expect(Object.values(body.parameters as Record<string, { source: string }>).every(({ source }) => source === 'default')).toBe(true);
  });

  it('needs a token', async () => {
    const answer = await get('', {});
    expect(answer.statusCode).toBe(401);
    expect(answer.json().error.code).toBe('unauthorized');
  });

  it('takes overrides from the query and says so', async () => {
    const answer = await get('?intervalMs=20&retention=4&coverage=0.5&errorRatePerHour=1&overheadBudgetPct=5');
    expect(answer.statusCode, answer.body).toBe(200);
    const body = answer.json();
    expect(body.parameters.intervalMs).toEqual({ value: 20, source: 'override' });
    expect(body.parameters.retention).toEqual({ value: 4, source: 'override' });
    expect(body.parameters.coverage).toEqual({ value: 0.5, source: 'override' });
    expect(body.parameters.rollbackMs.source).toBe('default');
    expect(body.overheadBudgetPct).toBe(5);
    // Half the errors undetected at one an hour: worse than the defaults.
    expect(body.availability).toBeLessThan((await get()).json().availability);
  });

  it('takes the masked share and the latency bound as overrides', async () => {
    const base = '?errorRatePerHour=600&intervalMs=50&retention=40';
    expect((await get(base)).json().parameters.latencyBoundMs).toEqual({ value: 0, source: 'default' });
    const plain = (await get(`${base}&latencyBoundMs=1000`)).json();
    expect(plain.parameters.maskedFraction).toEqual({ value: 0, source: 'default' });
    expect(plain.parameters.latencyBoundMs).toEqual({ value: 1000, source: 'override' });
    // The committed work back to the bound is done again.
    expect(plain.states.reExecuting).toBeGreaterThan(0);
    const masked = (await get(`${base}&latencyBoundMs=1000&maskedFraction=0.5`)).json();
    expect(masked.parameters.maskedFraction).toEqual({ value: 0.5, source: 'override' });
    // Half the errors cost nothing: less lost than with all of them.
    expect(masked.availability).toBeGreaterThan(plain.availability);
    // A tighter bound throws less work away once a detection comes.
    const tight = (await get(`${base}&latencyBoundMs=200`)).json();
    expect(tight.parameters.latencyBoundMs).toEqual({ value: 200, source: 'override' });
    expect(tight.availability).toBeGreaterThan(plain.availability);
  });

  it('recommends no interval when none is within the budget', async () => {
    const body = (await get('?dirtyPagesPerSecond=200000&workingSetPages=0&copyUsPerPage=2')).json();
    expect(body.recommendedIntervalMs).toBeNull();
    expect(body.recommendedAvailability).toBeNull();
  });

  const badQueries: [string, string][] = [
    ['an unknown field', '?colour=red'],
    ['coverage above 1', '?coverage=1.5'],
    ['coverage as text', '?coverage=high'],
    ['a negative error rate', '?errorRatePerHour=-1'],
    ['interval 0', '?intervalMs=0'],
    ['an interval too long', '?intervalMs=10001'],
    ['retention 0', '?retention=0'],
    ['fractional retention', '?retention=2.5'],
    ['latency shape 0', '?latencyShape=0'],
    ['a masked share above 1', '?maskedFraction=1.5'],
    ['a negative latency bound', '?latencyBoundMs=-1'],
    ['a latency bound as text', '?latencyBoundMs=soon'],
    ['an empty value', '?rollbackMs='],
    ['budget 0', '?overheadBudgetPct=0'],
    ['budget above 100', '?overheadBudgetPct=101'],
    ['a malformed VM id', '?vmId=web1'],
  ];
  for (const [what, query] of badQueries) {
    it(`refuses ${what} with 400`, async () => {
      const answer = await get(query);
      expect(answer.statusCode, answer.body).toBe(400);
      const { error } = answer.json();
      expect(error.code).toBe('invalid-argument');
      expect(typeof error.message).toBe('string');
    });
  }

  it('refuses an unknown VM with 404', async () => {
    const answer = await get('?vmId=vm-0123456789ab');
    expect(answer.statusCode).toBe(404);
    expect(answer.json().error.code).toBe('not-found');
  });

  it("takes a VM's interval and retention, which overrides still beat", async () => {
    const created = await server.app.inject({
      method: 'POST',
      url: '/api/vms',
      headers: asOperator,
      payload: { name: 'sim-model', workload: 'graph', backend: 'sim', settings: { intervalMs: 100, retention: 6 } },
    });
    expect(created.statusCode, created.body).toBe(201);
    const vmId = created.json().id as string;
    await until(async () => (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}`, headers: asViewer })).json().state === 'running', 'the VM to run');

    const fromVm = (await get(`?vmId=${vmId}`)).json();
    expect(fromVm.parameters.intervalMs).toEqual({ value: 100, source: 'measured' });
    expect(fromVm.parameters.retention).toEqual({ value: 6, source: 'measured' });
    const overridden = (await get(`?vmId=${vmId}&intervalMs=30`)).json();
    expect(overridden.parameters.intervalMs).toEqual({ value: 30, source: 'override' });
    expect(overridden.parameters.retention.source).toBe('measured');

    // A rollback's duration becomes the model's recovery time.
    expect(fromVm.parameters.rollbackMs.source).toBe('default');
    await until(async () => (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}/checkpoints`, headers: asViewer })).json().checkpoints?.length > 0, 'a checkpoint');
    const rollback = await server.app.inject({ method: 'POST', url: `/api/vms/${vmId}/rollback`, headers: asOperator, payload: { to: 'latest' } });
    expect(rollback.statusCode, rollback.body).toBe(200);
    const afterRollback = await until(async () => {
      const body = (await get(`?vmId=${vmId}`)).json();
      return body.parameters.rollbackMs.source === 'measured' ? body : null;
    }, 'the rollback to be measured');
    expect(afterRollback.parameters.rollbackMs.value).toBeGreaterThanOrEqual(0);
  });

  it("takes detection coverage and latency from the faults injected into the VM, once there are five", async () => {
    // A short recurrence window (above every detector's bound) so that each fault's recovery ends before the next.
    const created = await server.app.inject({
      method: 'POST',
      url: '/api/vms',
      headers: asOperator,
      payload: { name: 'sim-detection', workload: 'graph', backend: 'sim', settings: { intervalMs: 50, retention: 40, hangTimeoutMs: 300, selfCheckLatencyMs: 400, recurrenceWindowMs: 1000 } },
    });
    expect(created.statusCode, created.body).toBe(201);
    const vmId = created.json().id as string;
    const faultsOf = async () => (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}/faults`, headers: asViewer })).json().injections as { status: string; recovery?: unknown; detection?: { latencyMs: number } }[];
    await until(async () => (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}/checkpoints`, headers: asViewer })).json().checkpoints?.length >= 10, 'checkpoints');

    // The simulated guest finds a flipped data bit by its self-check 200 ms later; a crash shows at once.
    const kinds = [{ kind: 'bit-flip', region: 'data' }, { kind: 'crash' }, { kind: 'bit-flip', region: 'data' }, { kind: 'crash' }, { kind: 'bit-flip', region: 'data' }];
    for (const [n, fault] of kinds.entries()) {
      if (n === 4) {
        // Four settled faults are not enough to replace the defaults.
        const early = (await get(`?vmId=${vmId}`)).json();
        expect(early.parameters.coverage).toEqual({ value: 0.99, source: 'default' });
        expect(early.parameters.detectionLatencyMs).toEqual({ value: 100, source: 'default' });
        // The slowest detector's bound under the VM's settings: the heartbeat's 300 + 2 x 250 ms.
        expect(early.parameters.latencyBoundMs).toEqual({ value: 800, source: 'configured' });
      }
      const injected = await server.app.inject({ method: 'POST', url: `/api/vms/${vmId}/faults`, headers: asOperator, payload: { ...fault, seed: n } });
      expect(injected.statusCode, injected.body).toBe(201);
      await until(async () => (await faultsOf()).filter((i) => i.recovery).length === n + 1, `fault ${n + 1} to be recovered`);
    }

    const injections = await faultsOf();
    expect(injections.every((i) => i.status === 'detected')).toBe(true);
    const latencies = injections.map((i) => i.detection!.latencyMs);
    const body = (await get(`?vmId=${vmId}`)).json();
    expect(body.parameters.coverage).toEqual({ value: 1, source: 'measured' });
    expect(body.parameters.detectionLatencyMs.source).toBe('measured');
    expect(body.parameters.detectionLatencyMs.value).toBeCloseTo(latencies.reduce((a, b) => a + b, 0) / latencies.length, 6);
    expect(body.parameters.latencyShape.source).toBe('measured');
    // The bounds of the detectors that caught them: the self-check's 400 ms, the crash detector's 0.
    expect(body.parameters.latencyBoundMs.source).toBe('measured');
    expect(body.parameters.latencyBoundMs.value).toBeGreaterThanOrEqual(0);
    expect(body.parameters.latencyBoundMs.value).toBeLessThanOrEqual(400);
    // An override still beats what was measured.
    expect((await get(`?vmId=${vmId}&coverage=0.9`)).json().parameters.coverage).toEqual({ value: 0.9, source: 'override' });
  });

  it('is in the OpenAPI document', async () => {
    const document = (await server.app.inject({ method: 'GET', url: '/api/openapi.json' })).json();
    expect(document.paths['/api/model/availability']?.get).toBeDefined();
  });
});
