// The agent's side of the socket: accepts the server's connections, answers
// requests by calling the VmAgent, and pushes its telemetry to every
// connection that said hello. A connection that stops reading loses epoch
// events (counted, never buffered without bound); other events always go.
import { createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { EngineError } from '../errors.js';
import type { TelemetryEvent } from '../events.js';
import { encodeFrame, FrameDecoder, protocolVersion, type AgentMethods, type RequestMessage } from '../protocol.js';
import type { VmAgent } from './vm-agent.js';

const maxBufferedBytes = 4 << 20;

interface Connection {
  socket: Socket;
  greeted: boolean;
  droppedEpochs: number;
}

export class AgentEndpoint {
  readonly #agent: VmAgent;
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  /** Called when a client asks the agent to stop, after the answer is sent. */
  onStop: () => void = () => undefined;

  constructor(agent: VmAgent) {
    this.#agent = agent;
    this.#server = createServer((socket) => this.#accept(socket));
    agent.on('telemetry', (event) => this.#broadcast(event));
  }

  listen(socketPath: string): Promise<void> {
    // Only one agent owns a VM's socket path: a leftover file is from a dead agent.
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
    const connection: Connection = { socket, greeted: false, droppedEpochs: 0 };
    const decoder = new FrameDecoder();
    this.#connections.add(connection);
    socket.on('data', (chunk) => {
      let messages: unknown[];
      try {
        messages = decoder.push(chunk);
      } catch (error) {
        socket.destroy(error as Error);
        return;
      }
      for (const message of messages) void this.#handle(connection, message as RequestMessage);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.#connections.delete(connection));
  }

  async #handle(connection: Connection, request: RequestMessage): Promise<void> {
    const { id, method, params } = request;
    if (!connection.greeted && method !== 'hello') {
      this.#reply(connection, id, new EngineError('invalid-argument', 'the first request must be hello'));
      return;
    }
    try {
      const result = await this.#dispatch(connection, method, params as never);
      this.#reply(connection, id, undefined, result);
      if (method === 'stop') this.onStop();
    } catch (error) {
      this.#reply(connection, id, EngineError.from(error));
    }
  }

  #dispatch(connection: Connection, method: keyof AgentMethods, params: Record<string, unknown>): unknown {
    const agent = this.#agent;
    switch (method) {
      case 'hello': {
        if (params.protocol !== protocolVersion) {
          throw new EngineError('invalid-argument', `agent speaks protocol ${protocolVersion}, not ${String(params.protocol)}`);
        }
        connection.greeted = true;
        return agent.status();
      }
      case 'status':
        return agent.status();
      case 'configure':
        return agent.configure(params);
      case 'checkpoint':
        return agent.checkpointNow();
      case 'rollback':
        return agent.rollback(params.to as AgentMethods['rollback']['params']['to']);
      case 'checkpoints':
        return agent.checkpoints();
      case 'inject':
        return agent.inject(params as unknown as AgentMethods['inject']['params']);
      case 'faults':
        return agent.injections();
      case 'console':
        return agent.consoleTail(typeof params.lines === 'number' ? params.lines : undefined);
      case 'stop':
        agent.stop();
        return { stopped: true };
      default:
        throw new EngineError('invalid-argument', `unknown method ${String(method)}`);
    }
  }

  #reply(connection: Connection, id: number, error: EngineError | undefined, result?: unknown): void {
    const message = error ? { id, error: { code: error.code, message: error.message } } : { id, result: result ?? null };
    if (!connection.socket.destroyed) connection.socket.write(encodeFrame(message));
  }

  #broadcast(event: TelemetryEvent): void {
    let frame: Buffer | undefined;
    for (const connection of this.#connections) {
      if (!connection.greeted || connection.socket.destroyed) continue;
      if (event.type === 'epoch' && connection.socket.writableLength > maxBufferedBytes) {
        connection.droppedEpochs++;
        continue;
      }
      if (event.type === 'epoch' && connection.droppedEpochs > 0) {
        const caughtUp = { ...event, coalesced: event.coalesced + connection.droppedEpochs };
        connection.droppedEpochs = 0;
        connection.socket.write(encodeFrame({ event: caughtUp }));
        continue;
      }
      frame ??= encodeFrame({ event });
      connection.socket.write(frame);
    }
  }
}
