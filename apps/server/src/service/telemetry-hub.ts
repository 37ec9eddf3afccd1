// Fan-out of telemetry to WebSocket clients. Each event is serialized once.
// A client whose socket is backed up stops receiving frames: the hub keeps
// only the latest event per VM and type for it, counts what it missed, and
// sends that as one `coalesced` frame once the socket drains. So a client
// that never reads costs a bounded amount of memory, and others go on.
import type { TelemetryEvent } from '@uckpt/engine';

/** The part of a WebSocket the hub uses (ws's WebSocket fits). */
export interface TelemetrySocket {
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: string): void;
}

export interface CoalescedFrame {
  type: 'coalesced';
  missed: number;
  events: TelemetryEvent[];
}

interface Client {
  socket: TelemetrySocket;
  /** null: every VM. */
  vms: Set<string> | null;
  pending: Map<string, TelemetryEvent>;
  missed: number;
}

const open = 1;
/** VMs a client may follow by name at once (each name is held for it); past that, '*' follows every VM. */
export const maxSubscribedVms = 1024;

export interface TelemetryHubOptions {
  /** Bytes queued on a socket above which a client counts as slow. */
  highWaterBytes?: number;
  /** How often slow clients are checked for having drained. */
  drainCheckMs?: number;
}

export class TelemetryHub {
  readonly #clients = new Set<Client>();
  readonly #highWater: number;
  readonly #timer: NodeJS.Timeout;
  #framesSent = 0;
  #framesCoalesced = 0;

  constructor(options: TelemetryHubOptions = {}) {
    this.#highWater = options.highWaterBytes ?? 256 * 1024;
    this.#timer = setInterval(() => this.#flushDrained(), options.drainCheckMs ?? 100);
    this.#timer.unref();
  }

  /** subscribe() answers false, changing nothing, when the client would follow more than maxSubscribedVms by name. */
  add(socket: TelemetrySocket): { subscribe(vms: string[] | '*'): boolean; unsubscribe(vms: string[] | '*'): void; remove(): void } {
    const client: Client = { socket, vms: null, pending: new Map(), missed: 0 };
    this.#clients.add(client);
    return {
      subscribe: (vms) => {
        if (vms === '*') client.vms = null;
        else if (client.vms) {
          const named = client.vms;
          const added = new Set(vms.filter((vm) => !named.has(vm)));
          if (named.size + added.size > maxSubscribedVms) return false;
          for (const vm of added) named.add(vm);
        }
        return true;
      },
      unsubscribe: (vms) => {
        if (vms === '*') client.vms = new Set();
        else if (client.vms) for (const vm of vms) client.vms.delete(vm);
        else client.vms = new Set(); // from "every VM" to an explicit list: start empty, then subscribe
      },
      remove: () => this.#clients.delete(client),
    };
  }

  publish(event: TelemetryEvent): void {
    let frame: string | undefined;
    for (const client of this.#clients) {
      if (client.socket.readyState !== open) continue;
      if (client.vms && !client.vms.has(event.vmId)) continue;
      if (client.pending.size > 0 || client.socket.bufferedAmount > this.#highWater) {
        this.#hold(client, event);
        continue;
      }
      frame ??= JSON.stringify(event);
      client.socket.send(frame);
      this.#framesSent++;
    }
  }

  get stats(): { clients: number; framesSent: number; framesCoalesced: number } {
    return { clients: this.#clients.size, framesSent: this.#framesSent, framesCoalesced: this.#framesCoalesced };
  }

  close(): void {
    clearInterval(this.#timer);
    this.#clients.clear();
  }

  #hold(client: Client, event: TelemetryEvent): void {
    const key = `${event.vmId}\u0000${event.type}`;
    if (client.pending.has(key)) client.missed++;
    client.pending.delete(key); // re-insert: keep the order of the newest events
    client.pending.set(key, event);
    this.#framesCoalesced++;
  }

  #flushDrained(): void {
    for (const client of this.#clients) {
      if (client.pending.size === 0 || client.socket.readyState !== open) continue;
      if (client.socket.bufferedAmount > this.#highWater / 2) continue;
      const frame: CoalescedFrame = { type: 'coalesced', missed: client.missed, events: [...client.pending.values()] };
      client.pending.clear();
      client.missed = 0;
      client.socket.send(JSON.stringify(frame));
    }
  }
}
