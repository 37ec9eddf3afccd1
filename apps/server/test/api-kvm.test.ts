// The control plane over real KVM VMs: create one through the API, watch its
// epochs on the telemetry WebSocket, retune it, checkpoint, roll back, see
// the events and audit rows, delete it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TelemetryEvent } from '@uckpt/engine';
import { asOperator, describeKvm, emulated, processGone, startServer, until, viewerToken, type TestServer } from './helper.js';

// The interval the VM starts with, then the one it is changed to: five times as fast.
// Longer under emulation (e2e/kvm-rig), where an epoch's own work outlasts 20 ms.
const [slowMs, fastMs] = emulated ? [500, 100] : [100, 20];
/** How long epochs are counted at each interval. */
const windowMs = emulated ? 6000 : 1500;

describeKvm('a KVM VM through the API', () => {
  let server: TestServer;
  let vmId: string;
  const events: TelemetryEvent[] = [];
  let closeSocket: () => void = () => undefined;

  beforeAll(async () => {
    server = await startServer();
    const created = await server.app.inject({
      method: 'POST',
      url: '/api/vms',
      headers: asOperator,
      // A small graph under emulation: at its default size each epoch's copies took 700 ms there.
      payload: { name: 'graph-loop', workload: 'graph', memoryMiB: 512, repeat: 0, ...(emulated && { size: 64 }), settings: { intervalMs: slowMs, predictor: 'history' } },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ backend: 'kvm', simulated: false });
    vmId = created.json().id;
    const socket = await server.app.injectWS('/ws/telemetry', { headers: { host: 'localhost', 'sec-websocket-protocol': `uckpt.v1, bearer.${viewerToken}` } });
    socket.on('message', (data) => events.push(JSON.parse(String(data)) as TelemetryEvent));
    socket.send(JSON.stringify({ type: 'subscribe', vms: [vmId] }));
    closeSocket = () => socket.terminate();
  });

  afterAll(async () => {
    closeSocket();
    await server?.close();
  });

  const epochsOver = async (ms: number) => {
    const from = events.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return events.slice(from).filter((event) => event.type === 'epoch');
  };

  it('streams epochs, and their rate follows a changed interval', async () => {
    await until(() => events.some((event) => event.type === 'epoch'), 'a first epoch');
    const slow = await epochsOver(windowMs);
    expect(slow.every((epoch) => epoch.type === 'epoch' && epoch.intervalMs === slowMs && epoch.vmId === vmId)).toBe(true);
    const patched = await server.app.inject({ method: 'PATCH', url: `/api/vms/${vmId}/config`, headers: asOperator, payload: { intervalMs: fastMs } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().settings.intervalMs).toBe(fastMs);
    await until(() => events.some((event) => event.type === 'epoch' && event.intervalMs === fastMs), 'an epoch at the new interval');
    const fast = await epochsOver(windowMs);
    // Five times the rate asked for; more than twice delivered even on a loaded machine.
    expect(fast.length).toBeGreaterThan(2 * slow.length);
    const vm = (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}`, headers: asOperator })).json();
    expect(vm.state).toBe('running');
    expect(vm.progress.rate).toBeGreaterThan(0);
    expect(vm.calibratedRate).toBeGreaterThan(0);
    expect(vm.checkpointsRetained).toBeGreaterThan(0);
  });

  it('takes a checkpoint, rolls back to it, and the guest runs on', async () => {
    const patched = await server.app.inject({ method: 'PATCH', url: `/api/vms/${vmId}/config`, headers: asOperator, payload: { intervalMs: 200, retention: 16 } });
    expect(patched.statusCode).toBe(200);
    const taken = await server.app.inject({ method: 'POST', url: `/api/vms/${vmId}/checkpoints`, headers: asOperator });
    expect(taken.statusCode, taken.body).toBe(201);
    const { seq } = taken.json() as { seq: number };
    const rolled = await server.app.inject({ method: 'POST', url: `/api/vms/${vmId}/rollback`, headers: asOperator, payload: { to: seq } });
    expect(rolled.statusCode, rolled.body).toBe(200);
    expect(rolled.json()).toMatchObject({ seq });
    expect(rolled.json().pagesRestored).toBeGreaterThanOrEqual(0);
    await until(() => events.some((event) => event.type === 'rollback' && event.ok && event.seq === seq), 'the rollback event');
    const progressAfter = (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}`, headers: asOperator })).json().progress.units;
    await until(async () => (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}`, headers: asOperator })).json().progress.units > progressAfter, 'progress after the rollback');
    const history = (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}/events?types=rollback,checkpoint`, headers: asOperator })).json().events;
    expect(history.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['rollback', 'checkpoint']));
    const audit = (await server.app.inject({ method: 'GET', url: `/api/audit?vmId=${vmId}`, headers: asOperator })).json().entries;
    expect(audit.map((e: { action: string; result: string }) => `${e.action} ${e.result}`)).toEqual(
      expect.arrayContaining(['vm.config ok', 'vm.checkpoint ok', 'vm.rollback ok']),
    );
    const lines = (await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}/console`, headers: asOperator })).json().lines;
    expect(lines.join('\n')).toContain('uckpt guest: graph');
  });

  it('switches to copy-on-write and back while the guest runs', async () => {
    for (const mode of ['cow', 'stop-and-copy'] as const) {
      const patched = await server.app.inject({ method: 'PATCH', url: `/api/vms/${vmId}/config`, headers: asOperator, payload: { mode, intervalMs: 50 } });
      expect(patched.statusCode, patched.body).toBe(200);
      expect(patched.json().settings.mode).toBe(mode);
      const from = events.length;
      await until(() => events.slice(from).some((event) => event.type === 'epoch' && event.mode === mode), `an epoch in ${mode} mode`);
    }
    expect((await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}`, headers: asOperator })).json().state).toBe('running');
  });

  it('deletes the VM and its agent', async () => {
    const vm = server.service.store.getVm(vmId);
    const pid = vm?.agent?.pid;
    expect(pid).toBeGreaterThan(0);
    const deleted = await server.app.inject({ method: 'DELETE', url: `/api/vms/${vmId}`, headers: asOperator });
    expect(deleted.statusCode).toBe(204);
    expect((await server.app.inject({ method: 'GET', url: `/api/vms/${vmId}`, headers: asOperator })).statusCode).toBe(404);
    expect(processGone(pid!)).toBe(true);
    const audit = (await server.app.inject({ method: 'GET', url: `/api/audit?action=vm.delete`, headers: asOperator })).json().entries;
    expect(audit[0]).toMatchObject({ target: vmId, result: 'ok' });
  });
});
