// The harness's own well-formed calls to the API (set-up, checks, the chaos
// loop), with the tokens of the run. Every mutation it makes goes into the
// audit ledger like the fuzz's own requests, so that the audit check can
// account for every row.
import type { AuditLedger } from './audit-check.ts';
import type { Tokens } from './server-process.ts';

export type Caller = 'operator' | 'viewer' | 'none';

export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message);
  }
}

export class Api {
  constructor(
    readonly baseUrl: string,
    readonly tokens: Tokens,
    readonly ledger: AuditLedger | null = null,
  ) {}

  /** One call; rejects only when no answer came (connection refused or reset). */
  async call<T = unknown>(method: string, path: string, body?: unknown, caller: Caller = 'operator', timeoutMs = 30_000): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = {};
    if (caller !== 'none') headers.authorization = `Bearer ${this.tokens[caller]}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(timeoutMs) };
    if (body !== undefined) init.body = JSON.stringify(body);
    const answer = await this.#fetch(method, `${this.baseUrl}${path}`, init);
    const text = await answer.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    if (method !== 'GET' && method !== 'HEAD') this.ledger?.expect(tokenLabelOf(caller), auditCodeOf(answer.status, parsed));
    return { status: answer.status, body: parsed as T };
  }

  /** A read is tried again after a network error (a pooled connection to a server since restarted); a mutation never is. */
  async #fetch(method: string, url: string, init: RequestInit): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fetch(url, init);
      } catch (error) {
        if (method !== 'GET' || attempt >= 3) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** A call that must succeed (2xx); throws with the server's message otherwise. */
  async ok<T = unknown>(method: string, path: string, body?: unknown, caller: Caller = 'operator', timeoutMs?: number): Promise<T> {
    const answer = await this.call<T>(method, path, body, caller, timeoutMs);
    if (answer.status >= 300) {
      throw new ApiError(answer.status, answer.body, `${method} ${path}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
    }
    return answer.body;
  }
}

/** The audit log's token label for a caller of this run (tokens come from the environment). */
export function tokenLabelOf(caller: Caller | 'invalid'): string {
  if (caller === 'operator' || caller === 'viewer') return `${caller}:env`;
  return caller === 'none' ? 'no token' : 'invalid token';
}

/** What the audit log's result column should say of an answer: 'ok', or the error code of its body. */
export function auditCodeOf(status: number, body: unknown): string {
  if (status < 400) return 'ok';
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === 'string' ? code : String(status);
}
