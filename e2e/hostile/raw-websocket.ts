// A WebSocket client written on a bare TCP socket (RFC 6455), so that it can
// send what no library would: unmasked frames, reserved opcodes and bits,
// lengths that lie, invalid UTF-8, and so that it can stop reading
// altogether. It parses what the server sends: text messages and the close
// frame's code.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { parseResponse, type RawResponse } from './raw-http.ts';

export const opcodes = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface FrameOptions {
  fin?: boolean;
  /** RSV1-3 as bits 0b100, 0b010, 0b001. */
  rsv?: number;
  mask?: boolean;
  /** Claim this payload length instead of the real one. */
  claimedLength?: number | bigint;
}

export function encodeWsFrame(opcode: number, payload: Buffer, options: FrameOptions = {}): Buffer {
  const { fin = true, rsv = 0, mask = true } = options;
  const length = options.claimedLength ?? payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0xf)];
  const maskBit = mask ? 0x80 : 0;
  let extended = Buffer.alloc(0);
  if (typeof length === 'bigint' || length > 0xffff) {
    head.push(maskBit | 127);
    extended = Buffer.alloc(8);
    extended.writeBigUInt64BE(BigInt(length));
  } else if (length > 125) {
    head.push(maskBit | 126);
    extended = Buffer.alloc(2);
    extended.writeUInt16BE(length);
  } else {
    head.push(maskBit | length);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), extended, payload]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([Buffer.from(head), extended, key, masked]);
}

export interface HandshakeOptions {
  port: number;
  path?: string;
  /** Sec-WebSocket-Protocol values. */
  protocols?: string[];
  /** Replace the default handshake headers (Host, Upgrade, Connection, key, version) by name. */
  headers?: Record<string, string | null>;
  method?: string;
}

export type Handshake = { kind: 'open'; socket: RawWebSocket } | { kind: 'refused'; response: RawResponse | null; error?: string };

export class RawWebSocket {
  readonly socket: Socket;
  /** Text messages received, parsed as JSON where they are. */
  readonly messages: unknown[] = [];
  messagesReceived = 0;
  /** Messages whose type was 'error' (the server's answer to a message it could not use). */
  errorMessages = 0;
  bytesReceived = 0;
  closeCode: number | null = null;
  ended = false;
  #buffer: Buffer;
  #onMessage: ((message: unknown) => void) | null = null;

  private constructor(socket: Socket, rest: Buffer) {
    this.socket = socket;
    this.#buffer = rest;
    socket.on('data', (chunk) => {
      this.bytesReceived += chunk.length;
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#parse();
    });
    socket.on('close', () => (this.ended = true));
    socket.on('error', () => (this.ended = true));
    this.#parse();
  }

  static open(options: HandshakeOptions, timeoutMs = 10_000): Promise<Handshake> {
    const headers: Record<string, string | null> = {
      Host: `127.0.0.1:${options.port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      'Sec-WebSocket-Version': '13',
      ...(options.protocols ? { 'Sec-WebSocket-Protocol': options.protocols.join(', ') } : {}),
      ...options.headers,
    };
    const lines = [`${options.method ?? 'GET'} ${options.path ?? '/ws/telemetry'} HTTP/1.1`];
    for (const [name, value] of Object.entries(headers)) if (value !== null) lines.push(`${name}: ${value}`);
    return new Promise((resolve) => {
      const socket = connect({ port: options.port, host: '127.0.0.1' });
      let received = Buffer.alloc(0);
      let settled = false;
      const settle = (handshake: Handshake) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('data', onData);
        if (handshake.kind === 'refused') socket.destroy();
        resolve(handshake);
      };
      const timer = setTimeout(() => settle({ kind: 'refused', response: parseResponse(received), error: 'handshake timed out' }), timeoutMs);
      const onData = (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        const headEnd = received.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const response = parseResponse(received.subarray(0, headEnd + 4));
        if (response?.status === 101) {
          settle({ kind: 'open', socket: new RawWebSocket(socket, received.subarray(headEnd + 4)) });
          return;
        }
        // A refusal: read its body until the server closes.
        socket.once('close', () => settle({ kind: 'refused', response: parseResponse(received) }));
      };
      socket.on('data', onData);
      socket.on('error', (error) => settle({ kind: 'refused', response: parseResponse(received), error: error.message }));
      socket.on('close', () => settle({ kind: 'refused', response: parseResponse(received) }));
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  }

  send(frame: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(frame);
  }

  sendText(text: string | Buffer, options?: FrameOptions): void {
    this.send(encodeWsFrame(opcodes.text, Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8'), options));
  }

  /** Stops reading: the kernel's buffers fill, then the server's. */
  stopReading(): void {
    this.socket.pause();
  }

  /** Resolves with the first message `match` accepts, or null after `timeoutMs`. */
  waitFor(match: (message: unknown) => boolean, timeoutMs: number): Promise<unknown> {
    const seen = this.messages.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#onMessage = null;
        resolve(null);
      }, timeoutMs);
      this.#onMessage = (message) => {
        if (!match(message)) return;
        clearTimeout(timer);
        this.#onMessage = null;
        resolve(message);
      };
    });
  }

  /** Resolves once the server has closed the connection (true) or after `timeoutMs` (false). */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    return this.ended;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #parse(): void {
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) return;
      const opcode = b[0]! & 0x0f;
      let length = b[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + length) return;
      const payload = b.subarray(offset, offset + length);
      this.#buffer = b.subarray(offset + length);
      if (opcode === opcodes.close) {
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      } else if (opcode === opcodes.text) {
        this.messagesReceived++;
        let message: unknown = payload.toString('utf8');
        try {
          message = JSON.parse(message as string);
        } catch {
          // keep the text
        }
        if ((message as { type?: unknown } | null)?.type === 'error') this.errorMessages++;
        // Keep only the first few hundred: a reader that is not a leak itself.
        if (this.messages.length < 500) this.messages.push(message);
        this.#onMessage?.(message);
      }
    }
  }
}
