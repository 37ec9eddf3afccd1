// The agent protocol's framing and the agent endpoint's rules, over a real
// Unix socket with the simulated backend (a labelled test double).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient, AgentEndpoint, encodeFrame, FrameDecoder, maxFrameBytes, protocolVersion, SimBackend, VmAgent } from '../src/index.js';
import { connect } from 'node:net';

describe('framing', () => {
  it('reassembles frames split and joined at any byte', () => {
    const messages = [{ a: 1 }, { text: 'é'.repeat(1000) }, { list: [1, 2, 3] }];
    const bytes = Buffer.concat(messages.map(encodeFrame));
    for (const chunkSize of [1, 3, 7, 64, bytes.length]) {
      const decoder = new FrameDecoder();
      const out: unknown[] = [];
      for (let at = 0; at < bytes.length; at += chunkSize) out.push(...decoder.push(bytes.subarray(at, at + chunkSize)));
      expect(out).toEqual(messages);
    }
  });

  it('refuses a frame longer than the limit before buffering it', () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(maxFrameBytes + 1);
    expect(() => new FrameDecoder().push(header)).toThrow(/limit/);
  });
});

describe('agent endpoint', () => {
  let dir: string;
  let agent: VmAgent;
  let endpoint: AgentEndpoint;

  afterEach(async () => {
    agent?.stop();
    await endpoint?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(): Promise<string> {
    dir = mkdtempSync(path.join(tmpdir(), 'uckpt-p-'));
    const socketPath = path.join(dir, 'a.sock');
    agent = new VmAgent({
      vmId: 'vm-1',
      spec: { name: 'sim', backend: 'sim', workload: 'graph', memoryMiB: 64, vcpus: 1, seed: 1, size: 0, param: 0, repeat: 0 },
      settings: { enabled: true, intervalMs: 20, retention: 4, mode: 'stop-and-copy', predictor: 'off' },
      backend: new SimBackend(),
      calibrationMs: 50,
    });
    endpoint = new AgentEndpoint(agent);
    await endpoint.listen(socketPath);
    agent.start();
    return socketPath;
  }

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
