// Commands that act through a running `uckpt serve`: where it is, the
// token to present, and one request with errors a user can act on. The
// token comes from UCKPT_TOKEN, --token-file, or the state directory's
// operator.token, in that order.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultStateDir } from './commands/serve.js';
import { UsageError } from './usage-error.js';

/** parseArgs options every such command takes. */
export const serverOptions = {
  server: { type: 'string' },
  'token-file': { type: 'string' },
  'state-dir': { type: 'string' },
} as const;

export const serverUsage = `[--server URL (UCKPT_URL, default http://127.0.0.1:8080)]
      [--token-file F | UCKPT_TOKEN; default STATE_DIR/operator.token] [--state-dir DIR]`;

export interface ServerAnswer<T> {
  ok: boolean;
  status: number;
  body: T | null;
  /** The server's error message and code, when it refused. */
  refusal: string;
}

export class ServerClient {
  readonly url: string;
  readonly #token: string;

  constructor(values: { server?: string; 'token-file'?: string; 'state-dir'?: string }) {
    this.url = (values.server ?? process.env.UCKPT_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]+$/.test(this.url)) throw new UsageError(`--server must be a URL like http://127.0.0.1:8080 (got "${this.url}")`);
    this.#token = readToken(values['token-file'], values['state-dir']);
  }

  async request<T>(method: 'GET' | 'POST', route: string, body?: unknown, timeoutMs = 15_000): Promise<ServerAnswer<T>> {
    let answer: Response;
    try {
      answer = await fetch(`${this.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const cause = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message;
      throw new Error(`cannot reach the server at ${this.url} (${cause}): is \`uckpt serve\` running? (--server or UCKPT_URL to point elsewhere)`);
    }
    const parsed = (await answer.json().catch(() => null)) as (T & { error?: { code: string; message: string } }) | null;
    const refusal = answer.ok ? '' : parsed?.error ? `${parsed.error.message} (${parsed.error.code})` : `HTTP ${answer.status}`;
    return { ok: answer.ok, status: answer.status, body: parsed, refusal };
  }
}

function readToken(tokenFile: string | undefined, stateDir: string | undefined): string {
  const fromEnv = process.env.UCKPT_TOKEN?.trim();
  if (fromEnv && !tokenFile) return fromEnv;
  const file = tokenFile ?? path.join(stateDir ?? defaultStateDir(), 'operator.token');
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new UsageError(`cannot read the token from ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): set UCKPT_TOKEN or pass --token-file`);
  }
  if (!token) throw new UsageError(`${file} is empty: set UCKPT_TOKEN or pass --token-file`);
  return token;
}
