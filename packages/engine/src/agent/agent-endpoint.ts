// The agent's side of the socket: accepts the server's connections, answers
// requests by calling the VmAgent, and pushes its telemetry to every
// connection that said hello. Nothing a peer sends can stop the agent: every
// frame is checked before use (agent/requests.ts), a broken frame closes
// only that connection, and what the agent sends is bounded per connection:
// past a soft limit of unread bytes the frequent events (epochs, console
// lines) are dropped and counted, past a hard limit the peer is not reading
// at all and is disconnected.
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { EngineError } from '../errors.js';
import type { TelemetryEvent } from '../events.js';
import { encodeFrame, FrameDecoder, protocolVersion } from '../protocol.js';
import { parseRequest, type AgentCall } from './requests.js';
import type { VmAgent } from './vm-agent.js';

export interface EndpointLimits {
  /** Unread bytes past which epochs and console lines are dropped for a connection. */
  softBytes: number;
  /** Unread bytes past which a connection is closed: its peer is not reading. */
  hardBytes: number;
}

export const defaultEndpointLimits: EndpointLimits = { softBytes: 1 << 20, hardBytes: 16 << 20 };

interface Connection {
  socket: Socket;
  greeted: boolean;
  droppedEpochs: number;
  droppedConsoleLines: number;
}

export class AgentEndpoint {
  readonly #agent: VmAgent;
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  readonly #log: (message: string) => void;
  readonly #limits: EndpointLimits;
  /** Called when a client asks the agent to stop, after the answer is sent. */
  onStop: () => void = () => undefined;

  constructor(agent: VmAgent, log: (message: string) => void = () => undefined, limits: EndpointLimits = defaultEndpointLimits) {
    this.#agent = agent;
    this.#log = log;
    this.#limits = limits;
    this.#server = createServer((socket) => this.#accept(socket));
    agent.on('telemetry', (event) => this.#broadcast(event));
  }

  /** Listens on `socketPath`; the caller holds the VM's lock, so a file left there is a dead agent's. */
  listen(socketPath: string): Promise<void> {
    rmSync(socketPath, { force: true });
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(socketPath, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    for (const { socket } of this.#connections) socket.end();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    const connection: Connection = { socket, greeted: false, droppedEpochs: 0, droppedConsoleLines: 0 };
    const decoder = new FrameDecoder();
    this.#connections.add(connection);
    socket.on('data', (chunk) => {
      let frames: unknown[];
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        this.#log(`closing a connection that sent a broken frame: ${(error as Error).message}`);
        socket.destroy();
        return;
      }
      for (const frame of frames) this.#handle(connection, frame);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.#connections.delete(connection));
  }

  #handle(connection: Connection, frame: unknown): void {
    const request = parseRequest(frame);
    if (!request) return;
    if ('error' in request) {
      this.#reply(connection, request.id, request.error);
      return;
    }
    const { id, call } = request;
    if (!connection.greeted && call.method !== 'hello') {
      this.#reply(connection, id, new EngineError('invalid-argument', 'the first request must be hello'));
      return;
    }
    // Every path of a call ends in a reply; nothing a call throws escapes.
    Promise.resolve()
      .then(() => this.#dispatch(connection, call))
      .then(
        (result) => {
          this.#reply(connection, id, undefined, result);
          if (call.method === 'stop') this.onStop();
        },
        (error: unknown) => this.#reply(connection, id, EngineError.from(error)),
      );
  }

  #dispatch(connection: Connection, call: AgentCall): unknown {
    const agent = this.#agent;
    switch (call.method) {
      case 'hello':
        if (call.protocol !== protocolVersion) {
          throw new EngineError('invalid-argument', `agent speaks protocol ${protocolVersion}, not ${call.protocol}`);
        }
        if (call.vmId !== undefined && call.vmId !== agent.vmId) {
          throw new EngineError('invalid-argument', `this agent runs VM ${agent.vmId}, not ${call.vmId.slice(0, 64)}`);
        }
        connection.greeted = true;
        return agent.status();
      case 'status':
        return agent.status();
      case 'configure':
        return agent.configure(call.patch);
      case 'checkpoint':
        return agent.checkpointNow();
      case 'rollback':
        return agent.rollback(call.to);
      case 'checkpoints':
        return agent.checkpoints();
      case 'inject':
        return agent.inject(call.fault);
      case 'faults':
        return agent.injections();
      case 'console':
        return agent.consoleTail(call.lines);
      case 'stop':
        agent.stop();
        return { stopped: true };
    }
  }

  #reply(connection: Connection, id: number, error: EngineError | undefined, result?: unknown): void {
    const message = error ? { id, error: { code: error.code, message: error.message } } : { id, result: result ?? null };
    this.#send(connection, encodeFrame(message));
  }

  #broadcast(event: TelemetryEvent): void {
    let frame: Buffer | undefined;
    for (const connection of this.#connections) {
      if (!connection.greeted || connection.socket.destroyed) continue;
      if (connection.socket.writableLength > this.#limits.softBytes) {
        if (event.type === 'epoch') {
          connection.droppedEpochs++;
          continue;
        }
        if (event.type === 'console') {
          connection.droppedConsoleLines++;
          continue;
        }
      }
      const owed = event.type === 'epoch' ? connection.droppedEpochs : event.type === 'console' ? connection.droppedConsoleLines : 0;
      if (owed > 0) {
        this.#send(connection, encodeFrame({ event: withDropped(event, owed) }));
        if (event.type === 'epoch') connection.droppedEpochs = 0;
        else connection.droppedConsoleLines = 0;
        continue;
      }
      frame ??= encodeFrame({ event });
      this.#send(connection, frame);
    }
  }

  #send(connection: Connection, frame: Buffer): void {
    const { socket } = connection;
    if (socket.destroyed) return;
    if (socket.writableLength > this.#limits.hardBytes) {
      this.#log(`closing a connection that left ${socket.writableLength} bytes unread`);
      socket.destroy();
      return;
    }
    socket.write(frame);
  }
}

/** The event with what was dropped before it folded in: epochs count as coalesced, console lines are noted in the line. */
function withDropped(event: TelemetryEvent, dropped: number): TelemetryEvent {
  if (event.type === 'epoch') return { ...event, coalesced: event.coalesced + dropped };
  if (event.type === 'console') return { ...event, line: `[${dropped} console lines not sent: the reader fell behind] ${event.line}` };
  return event;
}
