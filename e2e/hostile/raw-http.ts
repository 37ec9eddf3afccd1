// HTTP/1.1 spoken by hand over a TCP socket, so that a request can be
// anything a hostile client could put on the wire: any request line
// (absolute form, bad escapes, dot segments), duplicate or odd headers,
// bodies whose length and framing disagree. One connection per request
// (Connection: close); the answer is parsed just enough to know its status,
// headers and body.
import { connect } from 'node:net';

export interface RawRequest {
  method: string;
  /** The request-target exactly as sent: '/api/vms', 'http://host/api', '*'. */
  target: string;
  /** In order, duplicates allowed; nothing is added but Connection: close (and Content-Length unless told otherwise). */
  headers: [string, string][];
  body?: Buffer;
  /** Send the body chunked instead of with a Content-Length. */
  chunked?: boolean;
  /** Leave out the Content-Length header a body would get. */
  noContentLength?: boolean;
  httpVersion?: string;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export type RawOutcome = { kind: 'answer'; response: RawResponse } | { kind: 'no-answer'; error: string };

export interface SendOptions {
  port: number;
  host?: string;
  timeoutMs?: number;
  /** Stop reading after this many bytes of answer (a never-ending answer is not our concern here). */
  maxAnswerBytes?: number;
  /**
   * Send the head first and the body only if no answer came within this
   * many ms, as a client that asked `Expect: 100-continue` would: a server
   * that refuses on the head alone closes without reading the body, and a
   * body still being written then turns the close into a reset that can
   * swallow the answer.
   */
  headFirstMs?: number;
}

export function encodeRequest(request: RawRequest): Buffer {
  const lines = [`${request.method} ${request.target} HTTP/${request.httpVersion ?? '1.1'}`];
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
  lines.push('Connection: close');
  const body = request.body ?? Buffer.alloc(0);
  if (request.chunked) lines.push('Transfer-Encoding: chunked');
  else if (request.body !== undefined && !request.noContentLength) lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  if (!request.chunked) return Buffer.concat([head, body]);
  const chunks: Buffer[] = [head];
  for (let at = 0; at < body.length; at += 4096) {
    const piece = body.subarray(at, at + 4096);
    chunks.push(Buffer.from(`${piece.length.toString(16)}\r\n`, 'latin1'), piece, Buffer.from('\r\n', 'latin1'));
  }
  chunks.push(Buffer.from('0\r\n\r\n', 'latin1'));
  return Buffer.concat(chunks);
}

/** Sends the request and reads the answer until the server closes the connection. */
export function sendRaw(request: RawRequest | Buffer, options: SendOptions): Promise<RawOutcome> {
  const bytes = Buffer.isBuffer(request) ? request : encodeRequest(request);
  const headEnd = options.headFirstMs === undefined ? -1 : bytes.indexOf('\r\n\r\n');
  const maxAnswerBytes = options.maxAnswerBytes ?? 4 << 20;
  return new Promise((resolve) => {
    const socket = connect({ port: options.port, host: options.host ?? '127.0.0.1' });
    const received: Buffer[] = [];
    let size = 0;
    let settled = false;
    let writeError: string | null = null;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const response = parseResponse(Buffer.concat(received));
      resolve(response ? { kind: 'answer', response } : { kind: 'no-answer', error: error ?? writeError ?? 'closed without an answer' });
    };
    const timer = setTimeout(() => finish(`no answer within ${options.timeoutMs ?? 15_000} ms`), options.timeoutMs ?? 15_000);
    socket.on('data', (chunk) => {
      received.push(chunk);
      size += chunk.length;
      if (size > maxAnswerBytes) finish();
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    // A server may answer (413) and close while a large body is still being written: the answer counts.
    socket.on('error', (error) => {
      writeError = (error as NodeJS.ErrnoException).code ?? error.message;
    });
    if (headEnd < 0) {
      socket.write(bytes);
      return;
    }
    socket.write(bytes.subarray(0, headEnd + 4));
    setTimeout(() => {
      if (size === 0 && !settled) socket.write(bytes.subarray(headEnd + 4));
    }, options.headFirstMs);
  });
}

/** Status line, headers and body of an answer; null when not even a status line arrived. */
export function parseResponse(data: Buffer): RawResponse | null {
  const headEnd = data.indexOf('\r\n\r\n');
  const head = data.subarray(0, headEnd < 0 ? data.length : headEnd).toString('latin1');
  const [statusLine, ...headerLines] = head.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
  if (!match) return null;
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = headEnd < 0 ? Buffer.alloc(0) : data.subarray(headEnd + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(body);
  return { status: Number(match[1]), headers, body };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const length = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(length) || length === 0) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + length));
    at = lineEnd + 2 + length + 2;
  }
  return Buffer.concat(parts);
}

/** The answer's JSON body, or undefined when it is not JSON. */
export function jsonBody(response: RawResponse): unknown {
  try {
    return JSON.parse(response.body.toString('utf8'));
  } catch {
    return undefined;
  }
}
