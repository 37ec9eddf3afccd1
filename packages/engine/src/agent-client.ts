// The server's side of an agent connection: typed requests with timeouts,
// and the agent's telemetry as events. `close` fires once, however the
// connection ends.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { EngineError } from './errors.js';
import type { TelemetryEvent } from './events.js';
import {
  encodeFrame,
  FrameDecoder,
  protocolVersion,
  type AgentMessage,
  type AgentMethod,
  type AgentMethods,
  type AgentStatus,
} from './protocol.js';

interface AgentClientEvents {
  telemetry: [event: TelemetryEvent];
  close: [error: Error | undefined];
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export const defaultRequestTimeoutMs = 10_000;

export class AgentClient extends EventEmitter<AgentClientEvents> {
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  private constructor(socket: Socket) {
    super();
    this.#socket = socket;
    const decoder = new FrameDecoder();
    socket.on('data', (chunk) => {
      try {
        for (const message of decoder.push(chunk)) this.#receive(message);
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    socket.on('error', (error) => this.#close(error));
    socket.on('close', () => this.#close(undefined));
  }

  /**
   * Connects and says hello; resolves with the agent's status. With `vmId`,
   * refuses (and closes) a connection to an agent that runs another VM.
   */
  static async connect(socketPath: string, timeoutMs = 2000, vmId?: string): Promise<{ client: AgentClient; status: AgentStatus }> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const socket = connect(socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new EngineError('timeout', `no agent answered on ${socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new EngineError('agent-unavailable', `cannot reach the agent on ${socketPath}: ${error.message}`));
      });
    });
    const client = new AgentClient(socket);
    try {
      const status = await client.request('hello', { protocol: protocolVersion, ...(vmId ? { vmId } : {}) }, timeoutMs);
      if (vmId !== undefined && status?.vmId !== vmId) {
        throw new EngineError('agent-unavailable', `the agent on ${socketPath} runs VM ${String(status?.vmId).slice(0, 64)}, not ${vmId}`);
      }
      return { client, status };
    } catch (error) {
      client.close();
      throw error;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  request<M extends AgentMethod>(method: M, params: AgentMethods[M]['params'], timeoutMs = defaultRequestTimeoutMs): Promise<AgentMethods[M]['result']> {
    if (this.#closed) return Promise.reject(new EngineError('agent-unavailable', 'the agent connection is closed'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new EngineError('timeout', `the agent did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.#socket.write(encodeFrame({ id, method, params }));
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  /** What the agent sends is checked like any peer's input: a frame of the wrong shape ends the connection. */
  #receive(message: unknown): void {
    if (!isAgentMessage(message)) throw new Error('the agent sent a frame that is neither an answer nor an event');
    if ('event' in message) {
      this.emit('telemetry', message.event);
      return;
    }
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    clearTimeout(pending.timer);
    if ('error' in message) pending.reject(new EngineError(message.error.code, message.error.message));
    else pending.resolve(message.result);
  }


  #close(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new EngineError('agent-unavailable', 'the agent connection closed before it answered'));
    }
    this.#pending.clear();
    this.emit('close', error);
  }
}

function isAgentMessage(message: unknown): message is AgentMessage {
  if (typeof message !== 'object' || message === null) return false;
  const fields = message as Record<string, unknown>;
  if ('event' in fields) {
    const event = fields.event as Record<string, unknown> | null;
    return typeof event === 'object' && event !== null && typeof event.type === 'string' && typeof event.vmId === 'string';
  }
  if (!Number.isSafeInteger(fields.id)) return false;
  if ('error' in fields) {
    const error = fields.error as Record<string, unknown> | null;
    return typeof error === 'object' && error !== null && typeof error.code === 'string' && typeof error.message === 'string';
  }
  return 'result' in fields;
}
