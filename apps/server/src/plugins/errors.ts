// One error shape for every answer: {error: {code, message}}, with the
// HTTP status that fits the code. Engine errors keep their code.
import { EngineError, type EngineErrorCode } from '@uckpt/engine';
import { readFile } from 'node:fs/promises';
import type { FastifyError, FastifyInstance } from 'fastify';

const statusOf: Record<EngineErrorCode, number> = {
  'invalid-argument': 400,
  'not-found': 404,
  conflict: 409,
  'rollback-refused': 409,
  timeout: 504,
  'agent-unavailable': 503,
  'backend-unavailable': 503,
  unsupported: 501,
  internal: 500,
};

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function errorAnswer(code: string, message: string, requestId?: string) {
  return { error: { code, message, ...(requestId ? { requestId } : {}) } };
}

/**
 * With `appShell` (the dashboard's index.html), unknown GETs outside the API
 * load the dashboard, whose router owns them. Every error answer carries the
 * request's id; a 5xx is logged under it.
 */
export function errorHandling(app: FastifyInstance, { appShell }: { appShell: string | null }): void {
  app.setErrorHandler((error: FastifyError | EngineError | HttpError, request, reply) => {
    const { status, code } = classify(error);
    request.failure = { code, message: error.message };
    if (status >= 500) request.log.error({ err: error, status, code, method: request.method, url: truncate(request.url) }, 'request failed');
    // What went wrong inside is for the log, not for the client.
    const message = code === 'internal' ? `internal error; see the server log for request ${request.id}` : error.message;
    return reply.status(status).send(errorAnswer(code, message, request.id));
  });
  app.setNotFoundHandler(async (request, reply) => {
    const pathname = request.url.split('?')[0] ?? '';
    if (appShell && request.method === 'GET' && !/^\/(api|ws|metrics|docs)(\/|$)/.test(pathname)) {
      return reply.type('text/html; charset=utf-8').send(await readFile(appShell));
    }
    request.failure = { code: 'not-found', message: `no route ${request.method} ${truncate(pathname)}` };
    return reply.status(404).send(errorAnswer('not-found', request.failure.message, request.id));
  });
}

function classify(error: FastifyError | EngineError | HttpError): { status: number; code: string } {
  // An agent's answer may carry a code this server does not know: that is the server's fault to report.
  if (error instanceof EngineError) return Object.hasOwn(statusOf, error.code) ? { status: statusOf[error.code], code: error.code } : { status: 500, code: 'internal' };
  if (error instanceof HttpError) return { status: error.statusCode, code: error.code };
  if ('validation' in error && error.validation) return { status: 400, code: 'invalid-argument' };
  if (error.statusCode === 429) return { status: 429, code: 'rate-limited' };
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return { status: error.statusCode, code: error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'too-large' : 'bad-request' };
  }
  return { status: 500, code: 'internal' };
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the answer is an error: for the audit log. */
    failure?: { code: string; message: string };
  }
}
