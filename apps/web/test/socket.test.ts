import { describe, expect, it } from 'vitest';
import { backoffDelay, SUBPROTOCOL, TelemetrySocket, telemetryUrl } from '../src/telemetry/socket.ts';
import type { ConnectionState } from '../src/telemetry/store.ts';

class FakeSocket {
  readyState = 0;
  sent: string[] = [];
  closed = false;
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}
  send(d: string) {
    this.sent.push(d);
  }
  close() {
    this.closed = true;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  drop() {
    this.readyState = 3;
    this.onclose?.({});
  }
}

function harness() {
  const sockets: FakeSocket[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const states: ConnectionState[] = [];
  const frames: unknown[] = [];
  let opens = 0;
  const client = new TelemetrySocket({
    url: 'ws://h/ws/telemetry',
    token: 'tok',
    onFrame: (f) => frames.push(f),
    onState: (s) => states.push(s),
    onOpen: () => opens++,
    factory: (url, protocols) => {
      const s = new FakeSocket(url, protocols);
      sockets.push(s);
      return s;
    },
    random: () => 1,
    setTimeout: (fn, ms) => {
      timers.push({ fn, ms });
      return timers.length;
    },
    clearTimeout: () => {},
    now: () => 0,
  });
  return { client, sockets, timers, states, frames, opens: () => opens };
}

describe('backoffDelay', () => {
  it('doubles from the base up to the cap, with jitter between 50 and 100 %', () => {
    const b = { baseMs: 500, maxMs: 8000 };
    expect([0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, b, () => 1))).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
    expect(backoffDelay(2, b, () => 0)).toBe(1000);
    expect(backoffDelay(1000, b, () => 1)).toBe(8000);
  });
});

describe('telemetryUrl', () => {
  it('follows the page scheme', () => {
    expect(telemetryUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/ws/telemetry');
    expect(telemetryUrl({ protocol: 'https:', host: 'x' })).toBe('wss://x/ws/telemetry');
  });
});

describe('TelemetrySocket', () => {
  it('authenticates with the subprotocol pair, subscribes and passes frames on', () => {
    const h = harness();
    h.client.start();
    expect(h.states.at(-1)?.status).toBe('connecting');
    const s = h.sockets[0]!;
    expect(s.protocols).toEqual([SUBPROTOCOL, 'bearer.tok']);
    s.open();
    expect(h.states.at(-1)?.status).toBe('live');
    expect(JSON.parse(s.sent[0]!)).toEqual({ type: 'subscribe', vms: '*' });
    expect(h.opens()).toBe(1);
    s.onmessage?.({ data: '{"type":"epoch","vmId":"v","time":1}' });
    s.onmessage?.({ data: 'not json' });
    expect(h.frames).toEqual([{ type: 'epoch', vmId: 'v', time: 1 }]);
  });

  it('reconnects with growing delays and resets them after a success', () => {
    const h = harness();
    h.client.start();
    h.sockets[0]!.drop();
    expect(h.states.at(-1)).toEqual({ status: 'disconnected', attempt: 1, retryAt: 500 });
    h.timers.shift()!.fn();
    h.sockets[1]!.drop();
    expect(h.timers[0]!.ms).toBe(1000);
    h.timers.shift()!.fn();
    h.sockets[2]!.open();
    expect(h.states.at(-1)?.status).toBe('live');
    expect(h.opens()).toBe(1);
    h.sockets[2]!.drop();
    expect(h.timers[0]!.ms).toBe(500);
  });

  it('stops for good: no reconnect after stop()', () => {
    const h = harness();
    h.client.start();
    h.sockets[0]!.open();
    h.client.stop();
    expect(h.sockets[0]!.closed).toBe(true);
    expect(h.timers).toHaveLength(0);
  });
});
