// The telemetry WebSocket: authenticates with the bearer subprotocol,
// subscribes, parses frames into the store, and reconnects by itself with
// exponential backoff and jitter. Connection state is published through the
// store so every view can grey stale data.
import type { ConnectionState } from './store.ts';

export const SUBPROTOCOL = 'uckpt.v1';

export interface Backoff {
  baseMs: number;
  maxMs: number;
}
export const defaultBackoff: Backoff = { baseMs: 500, maxMs: 15_000 };

/** Delay before reconnect attempt `attempt` (0-based): base*2^attempt capped at max, with 50-100% jitter. */
export function backoffDelay(attempt: number, b: Backoff = defaultBackoff, random: () => number = Math.random): number {
  const ceiling = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}

/** Where /ws/telemetry is for a page served from `location`. */
export function telemetryUrl(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws/telemetry`;
}

interface SocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type SocketFactory = (url: string, protocols: string[]) => SocketLike;

export interface TelemetrySocketOptions {
  url: string;
  token: string;
  onFrame: (frame: unknown) => void;
  onState: (state: ConnectionState) => void;
  /** After every successful (re)connection: refresh what may have changed meanwhile. */
  onOpen?: () => void;
  /** After a failed attempt: the app checks whether the token is still valid. */
  onFailure?: () => void;
  factory?: SocketFactory;
  backoff?: Backoff;
  random?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (h: unknown) => void;
  now?: () => number;
}

export class TelemetrySocket {
  private ws: SocketLike | null = null;
  private attempt = 0;
  private retryTimer: unknown = null;
  private stopped = true;
  private readonly subs = new Set<string>();
  private all = true;

  constructor(private readonly o: TelemetrySocketOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== null) (this.o.clearTimeout ?? ((h) => clearTimeout(h as number)))(this.retryTimer);
    this.retryTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      ws.close(1000, 'signed out');
    }
  }

  /** Subscribe to every VM ('*') or to a set; sent again after each reconnect. */
  subscribe(vms: '*' | string[]): void {
    if (vms === '*') this.all = true;
    else for (const v of vms) this.subs.add(v);
    this.send({ type: 'subscribe', vms });
  }

  unsubscribe(vms: string[]): void {
    for (const v of vms) this.subs.delete(v);
    this.send({ type: 'unsubscribe', vms });
  }

  private send(msg: unknown): void {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(msg));
  }

  private connect(): void {
    this.o.onState({ status: 'connecting', attempt: this.attempt, retryAt: null });
    const factory: SocketFactory = this.o.factory ?? ((url, protocols) => new WebSocket(url, protocols) as unknown as SocketLike);
    let ws: SocketLike;
    try {
      ws = factory(this.o.url, [SUBPROTOCOL, `bearer.${this.o.token}`]);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.o.onState({ status: 'live', attempt: 0, retryAt: null });
      if (this.all) this.send({ type: 'subscribe', vms: '*' });
      else if (this.subs.size > 0) this.send({ type: 'subscribe', vms: [...this.subs] });
      this.o.onOpen?.();
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      let frame: unknown;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.o.onFrame(frame);
    };
    ws.onerror = () => {
      /* onclose follows and handles it */
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.o.onFailure?.();
      this.scheduleRetry();
    };
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt, this.o.backoff, this.o.random);
    this.attempt += 1;
    const now = (this.o.now ?? Date.now)();
    this.o.onState({ status: 'disconnected', attempt: this.attempt, retryAt: now + delay });
    const set = this.o.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.retryTimer = set(() => {
      this.retryTimer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }
}
