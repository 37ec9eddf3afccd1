// Where `uckpt serve` logs: JSON lines (pino, Fastify's own logger) into
// server.log in the state directory, for tools, and a short human line per
// entry on stderr, for the operator's terminal. Credentials never reach
// either: the headers that carry them are redacted wherever they appear.
import { createWriteStream, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** server.log is moved aside to server.log.1 at start once it passes this size. */
const rotateAtBytes = 32 << 20;

export const redactedPaths = [
  'req.headers.authorization',
  'req.headers["sec-websocket-protocol"]',
  'headers.authorization',
  'headers["sec-websocket-protocol"]',
];

/** `terminal` gets the human lines; stderr unless told otherwise. */
export function serverLogger(stateDir: string, terminal: NodeJS.WritableStream = process.stderr): Logger {
  const file = path.join(stateDir, 'server.log');
  rotate(file);
  return pino(
    { base: null, redact: { paths: redactedPaths, censor: '[redacted]' } },
    pino.multistream([
      { level: 'info', stream: createWriteStream(file, { flags: 'a', mode: 0o600 }) },
      { level: 'info', stream: humanLines(terminal) },
    ]),
  );
}

/** "2026-12-07T10:00:00.000Z uckpt: message (error: ...)" from each pino JSON line. */
function humanLines(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const entry = JSON.parse(line) as { time: number; level: number; msg?: string; err?: { message?: string }; reqId?: string };
          const level = entry.level >= 50 ? ' error:' : entry.level >= 40 ? ' warning:' : '';
          const detail = entry.err?.message ? ` (${entry.err.message}${entry.reqId ? `; request ${entry.reqId}` : ''})` : '';
          out.write(`${new Date(entry.time).toISOString()} uckpt:${level} ${entry.msg ?? ''}${detail}\n`);
        } catch {
          out.write(`${line}\n`);
        }
      }
      done();
    },
  });
}

function rotate(file: string): void {
  try {
    if (statSync(file).size > rotateAtBytes) renameSync(file, `${file}.1`);
  } catch {
    // No log yet.
  }
}
