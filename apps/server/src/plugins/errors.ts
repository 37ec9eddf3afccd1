// One error shape for every answer: {error: {code, message}}, with the
// HTTP status that fits the code. Engine errors keep their code.
import { EngineError, type EngineErrorCode } from '@uckpt/engine';
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

export function errorAnswer(code: string, message: string) {
  return { error: { code, message } };
}

/** With `appShell`, unknown GETs outside the API load the dashboard, whose router owns them. */
export function errorHandling(app: FastifyInstance, { appShell }: { appShell: boolean }): void {
  app.setErrorHandler((error: FastifyError | EngineError | HttpError, request, reply) => {
    let status: number;
    let code: string;
    if (error instanceof EngineError) {
      status = statusOf[error.code];
      code = error.code;
    } else if (error instanceof HttpError) {
      status = error.statusCode;
      code = error.code;
    } else if ('validation' in error && error.validation) {
      status = 400;
      code = 'invalid-argument';
    } else if (error.statusCode === 429) {
      status = 429;
      code = 'rate-limited';
    } else if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      status = error.statusCode;
      code = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'too-large' : 'bad-request';
    } else {
      status = 500;
      code = 'internal';
      request.log.error({ err: error }, 'request failed');
    }
    request.failure = { code, message: error.message };
    return reply.status(status).send(errorAnswer(code, status === 500 ? 'internal error; see the server log' : error.message));
  });
  app.setNotFoundHandler((request, reply) => {
    const pathname = request.url.split('?')[0] ?? '';
    if (appShell && request.method === 'GET' && !/^\/(api|ws|metrics|docs)(\/|$)/.test(pathname)) return reply.sendFile('index.html');
    request.failure = { code: 'not-found', message: `no route ${request.method} ${pathname}` };
    return reply.status(404).send(errorAnswer('not-found', request.failure.message));
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the answer is an error: for the audit log. */
    failure?: { code: string; message: string };
  }
}
