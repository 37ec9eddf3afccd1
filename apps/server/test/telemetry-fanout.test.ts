// Fan-out under a client that never reads: the server keeps no more for it
// than a socket buffer's worth plus one latest event per VM and type, while
// a client that reads receives everything.
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { EpochEvent } from '@uckpt/engine';
import { startServer, until, viewerToken, type TestServer } from './helper.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

let server: TestServer;
let port: number;

beforeAll(async () => {
  server = await startServer();
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  port = (server.app.server.address() as { port: number }).port;
});

afterAll(async () => server?.close());

function epoch(seq: number, vmId: string): EpochEvent {
  return {
    type: 'epoch', vmId, time: Date.now(), seq, mode: 'stop-and-copy', intervalMs: 50, dirtyPages: seq, pagesCopied: seq, pagesPrecopied: 0, pauseUs: 100,
    faults: 0, faultUs: 0, lateUs: 0, predicted: 0, truePositives: 0, falsePositives: 0, misses: 0, precision: null, recall: null,
    storeBytes: 0, checkpointsRetained: 8, progressRate: 1, overheadPct: null, coalesced: 0,
  };
}

describe('telemetry fan-out', () => {
  it('a client that never reads stays bounded while another receives every frame', async () => {
    // A WebSocket client that completes the handshake and then never reads a byte.
    const stalled = connect(port, '127.0.0.1');
    stalled.write(
      `GET /ws/telemetry HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
        `Sec-WebSocket-Protocol: uckpt.v1, bearer.${viewerToken}\r\n\r\n`,
    );
    await new Promise((resolve) => stalled.once('data', resolve));
    stalled.pause();

    const reader = new WebSocket(`ws://127.0.0.1:${port}/ws/telemetry`, ['uckpt.v1', `bearer.${viewerToken}`]);
    let received = 0;
    let lastSeq = 0;
    reader.on('message', (data) => {
      const event = JSON.parse(String(data)) as EpochEvent;
      if (event.type === 'epoch') {
        received++;
        lastSeq = event.seq;
      }
    });
    await new Promise((resolve) => reader.once('open', resolve));
    await until(() => server.service.hub.stats.clients === 2, 'both clients');

    const total = 40_000; // ~20 MB of frames
    collectGarbage();
    const heapBefore = memoryInUse();
    for (let seq = 1; seq <= total; seq++) {
      server.service.hub.publish(epoch(seq, `vm-${(seq % 8).toString(16).padStart(8, '0')}`));
      if (seq % 200 === 0) await until(() => received >= seq - 400 || null, 'the reader to keep up', 10_000);
    }
    await until(() => lastSeq === total, 'the reader to receive the last frame', 10_000);
    collectGarbage();
    const heapGrowth = memoryInUse() - heapBefore;

    expect(received).toBe(total);
    expect(server.service.hub.stats.framesCoalesced).toBeGreaterThan(total / 2);
    // 20 MB went to the reader; the stalled client holds at most its buffer and 8 latest events.
    expect(heapGrowth).toBeLessThan(4 * 1024 * 1024);
    stalled.destroy();
    reader.close();
  });
});

/** JS heap plus the Buffers outside it, where queued socket data lives. */
function memoryInUse(): number {
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}
