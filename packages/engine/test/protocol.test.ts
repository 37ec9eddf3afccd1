// The agent protocol's framing and the agent endpoint's rules, over a real
// Unix socket with the simulated backend (a labelled test double).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AgentClient, AgentEndpoint, encodeFrame, parseRequest, FrameDecoder, maxFrameBytes, protocolVersion, SimBackend, VmAgent, type EndpointLimits } from '../src/index.js';
import { connect, type Socket } from 'node:net';

describe('framing', () => {
  it('reassembles frames split and joined at any byte', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (values, cuts) => {
        // JSON has no undefined or -0: what goes through a frame is what JSON keeps.
        const messages = values.map((value) => JSON.parse(JSON.stringify(value)) as unknown);
        const bytes = Buffer.concat(messages.map(encodeFrame));
        const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
        const decoder = new FrameDecoder();
        const out: unknown[] = [];
        let from = 0;
        for (const to of [...points, bytes.length]) {
          out.push(...decoder.push(bytes.subarray(from, to)));
          from = to;
        }
        expect(out).toEqual(messages);
      }),
    );
  });

  it('refuses a frame longer than the limit before buffering it', () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(maxFrameBytes + 1);
    expect(() => new FrameDecoder().push(header)).toThrow(/limit/);
  });
});

describe('request validation', () => {
  it('turns any frame into a call, an error answer or nothing, never an exception', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.record({ id: fc.oneof(fc.integer(), fc.jsonValue()), method: fc.oneof(fc.string(), fc.jsonValue()), params: fc.jsonValue() }, { requiredKeys: [] })), (frame) => {
        const parsed = parseRequest(frame);
        if (parsed === null) return;
        expect(Number.isSafeInteger(parsed.id) && parsed.id >= 0).toBe(true);
        expect('call' in parsed !== 'error' in parsed).toBe(true);
      }),
    );
  });

  it('accepts exactly the well-formed calls', () => {
    expect(parseRequest({ id: 1, method: 'hello', params: { protocol: 2, vmId: 'vm-1' } })).toEqual({ id: 1, call: { method: 'hello', protocol: 2, vmId: 'vm-1' } });
    expect(parseRequest({ id: 2, method: 'console', params: { lines: 5 } })).toEqual({ id: 2, call: { method: 'console', lines: 5 } });
    expect(parseRequest({ id: 3, method: 'status' })).toEqual({ id: 3, call: { method: 'status' } });
    for (const [frame, message] of [
      [{ id: 4, method: 7 }, /method must be a string/],
      [{ id: 5, method: 'status', params: [] }, /params must be an object/],
      [{ id: 6, method: 'hello', params: { protocol: '2' } }, /integer protocol/],
      [{ id: 7, method: 'console', params: { lines: 1e9 } }, /lines must be an integer/],
      [{ id: 8, method: 'reboot-host' }, /unknown method/],
    ] as const) {
      const parsed = parseRequest(frame);
      expect(parsed && 'error' in parsed ? parsed.error.message : 'accepted').toMatch(message);
    }
    for (const frame of [null, [], 'status', { method: 'status' }, { id: -1, method: 'status' }, { id: 1.5, method: 'status' }, { id: '1', method: 'status' }]) {
      expect(parseRequest(frame)).toBeNull();
    }
  });
});

// A simulated VM's agent serving on a fresh socket, for the tests that talk
// to one; torn down after each test.
let dir: string | undefined;
let agent: VmAgent;
let endpoint: AgentEndpoint | undefined;

afterEach(async () => {
  agent?.stop();
  await endpoint?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  endpoint = undefined;
});

async function serve(limits?: EndpointLimits): Promise<string> {
  dir = mkdtempSync(path.join(tmpdir(), 'uckpt-p-'));
  const socketPath = path.join(dir, 'a.sock');
  agent = new VmAgent({
    vmId: 'vm-1',
    spec: { name: 'sim', backend: 'sim', workload: 'graph', memoryMiB: 64, vcpus: 1, seed: 1, size: 0, param: 0, repeat: 0 },
    settings: { enabled: true, intervalMs: 20, retention: 4, mode: 'stop-and-copy', predictor: 'off' },
    backend: new SimBackend(),
    calibrationMs: 50,
  });
  endpoint = new AgentEndpoint(agent, () => undefined, limits);
  await endpoint.listen(socketPath);
  agent.start();
  return socketPath;
}

describe('agent endpoint', () => {
  it('answers hello with its status and refuses another protocol version', async () => {
    const socketPath = await serve();
    const { client, status } = await AgentClient.connect(socketPath);
    expect(status).toMatchObject({ vmId: 'vm-1', protocol: protocolVersion, simulated: true });
    client.close();
    const raw = connect(socketPath);
    const decoder = new FrameDecoder();
    raw.write(encodeFrame({ id: 1, method: 'status', params: {} }));
    raw.write(encodeFrame({ id: 2, method: 'hello', params: { protocol: protocolVersion + 1 } }));
    const answers: { id: number; error?: { message: string } }[] = [];
    await new Promise<void>((resolve) => raw.on('data', (chunk) => {
      answers.push(...(decoder.push(chunk) as typeof answers));
      if (answers.length === 2) resolve();
    }));
    expect(answers[0]!.error?.message).toMatch(/first request must be hello/);
    expect(answers[1]!.error?.message).toMatch(/protocol/);
    raw.destroy();
  });

  it('streams telemetry and refuses bad settings with nothing changed', async () => {
    const socketPath = await serve();
    const { client } = await AgentClient.connect(socketPath);
    const epoch = await new Promise((resolve) => client.on('telemetry', (event) => event.type === 'epoch' && resolve(event)));
    expect(epoch).toMatchObject({ vmId: 'vm-1', mode: 'stop-and-copy' });
    await expect(client.request('configure', { intervalMs: 0 })).rejects.toThrow(/intervalMs/);
    await expect(client.request('configure', { retention: 5000 })).rejects.toThrow(/retention/);
    expect((await client.request('status', {})).settings).toMatchObject({ intervalMs: 20, retention: 4 });
    client.close();
  });

  it('a request that gets no answer times out with a clear error', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'uckpt-p-'));
    const { createServer } = await import('node:net');
    const socketPath = path.join(dir, 'silent.sock');
    const silent = createServer(() => undefined).listen(socketPath);
    await expect(AgentClient.connect(socketPath, 200)).rejects.toThrow(/did not answer hello within 200 ms/);
    silent.close();
  });
});

/** Frames sent on one connection, and the answers that came back before it closed or went quiet. */
async function exchange(socketPath: string, frames: Buffer[], settleMs = 150): Promise<{ answers: unknown[]; closed: boolean }> {
  const socket = connect(socketPath);
  const decoder = new FrameDecoder();
  const answers: unknown[] = [];
  let closed = false;
  socket.on('data', (chunk) => answers.push(...decoder.push(chunk)));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  for (const frame of frames) socket.write(frame);
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  socket.destroy();
  return { answers, closed };
}

function rawFrame(body: string): Buffer {
  const bytes = Buffer.from(body, 'utf8');
  const header = Buffer.alloc(4);
  header.writeUInt32BE(bytes.length);
  return Buffer.concat([header, bytes]);
}

describe('an agent its peer cannot kill', () => {
  async function stillServes(socketPath: string): Promise<void> {
    const { client, status } = await AgentClient.connect(socketPath, 2000, 'vm-1');
    expect(status.vmId).toBe('vm-1');
    expect((await client.request('status', {})).state).not.toBe('failed');
    client.close();
  }

  it('answers malformed requests with errors, ignores frames without an id, and carries on', async () => {
    const socketPath = await serve();
    const hello = encodeFrame({ id: 1, method: 'hello', params: { protocol: protocolVersion } });
    const hostile = ['null', '[]', '"hello"', '42', 'true', '{}', '{"id":"1","method":"status"}', '{"id":-1,"method":"status"}', '{"id":1.5,"method":"status"}']
      .map(rawFrame);
    const answered = [
      { id: 10, method: 7 },
      { id: 11, method: 'status', params: [] },
      { id: 12, method: 'status', params: null },
      { id: 13, method: 'configure', params: { intervalMs: '5' } },
      { id: 14, method: 'configure', params: { bogus: 1 } },
      { id: 15, method: 'configure', params: { mode: 'fast' } },
      { id: 16, method: 'rollback', params: { to: -1 } },
      { id: 17, method: 'rollback', params: {} },
      { id: 18, method: 'inject', params: { kind: 'meteor' } },
      { id: 19, method: 'inject', params: {} },
      { id: 20, method: 'console', params: { lines: 1e9 } },
      { id: 21, method: '__proto__', params: {} },
      { id: 22, method: 'hello', params: { protocol: protocolVersion, vmId: 'vm-other' } },
    ].map((frame) => encodeFrame(frame));
    const { answers, closed } = await exchange(socketPath, [hello, ...hostile, ...answered]);
    expect(closed).toBe(false);
    const errors = answers.filter((answer): answer is { id: number; error: { code: string } } => 'error' in (answer as object));
    expect(errors.map((answer) => answer.id).sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]);
    expect(errors.every((answer) => answer.error.code === 'invalid-argument')).toBe(true);
    expect((agent.status().settings as { intervalMs: number }).intervalMs).toBe(20);
    await stillServes(socketPath);
  });

  it('closes a connection whose framing breaks (too long, not JSON), and only that one', async () => {
    const socketPath = await serve();
    const tooLong = Buffer.alloc(4);
    tooLong.writeUInt32BE(maxFrameBytes + 1);
    expect((await exchange(socketPath, [tooLong])).closed).toBe(true);
    expect((await exchange(socketPath, [rawFrame('{"id":1,')])).closed).toBe(true);
    await stillServes(socketPath);
  });

  it('survives any JSON at all as a frame, before and after hello', async () => {
    const socketPath = await serve();
    const hello = encodeFrame({ id: 1, method: 'hello', params: { protocol: protocolVersion } });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.jsonValue(), fc.record({ id: fc.integer(), method: fc.constantFrom('hello', 'status', 'configure', 'rollback', 'inject', 'console', 'checkpoint', 'stop-not'), params: fc.jsonValue() })), { maxLength: 20 }), fc.boolean(), async (frames, greet) => {
        await exchange(socketPath, [...(greet ? [hello] : []), ...frames.map((frame) => encodeFrame(frame))], 10);
      }),
      { numRuns: 60 },
    );
    await stillServes(socketPath);
    expect(agent.state).not.toBe('stopped');
  });

  it('disconnects a peer that stops reading, past the hard limit, and keeps serving the others', async () => {
    const socketPath = await serve({ softBytes: 16 << 10, hardBytes: 256 << 10 });
    const reader = await AgentClient.connect(socketPath, 2000, 'vm-1');
    const stalled: Socket = connect(socketPath);
    let closed = false;
    stalled.on('close', () => (closed = true));
    stalled.on('error', () => undefined);
    stalled.pause();
    stalled.write(encodeFrame({ id: 1, method: 'hello', params: { protocol: protocolVersion } }));
    // Each status answer is about a kilobyte; the peer asks and never reads.
    for (let i = 2; i < 8000 && !closed; i++) {
      stalled.write(encodeFrame({ id: i, method: 'status', params: {} }));
      if (i % 200 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const deadline = Date.now() + 5000;
    while (!closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(true);
    const epoch = await new Promise((resolve) => reader.client.on('telemetry', (event) => event.type === 'epoch' && resolve(event)));
    expect(epoch).toMatchObject({ vmId: 'vm-1' });
    reader.client.close();
  });

  it('the client refuses an agent that runs another VM', async () => {
    const socketPath = await serve();
    await expect(AgentClient.connect(socketPath, 2000, 'vm-2')).rejects.toThrow(/runs VM vm-1, not vm-2/);
  });
});
