// Every mutation an authenticated client attempts goes into the append-only
// audit log with its outcome, including refusals (a viewer's attempt, bad
// input, a VM in the wrong state).
import type { FastifyInstance } from 'fastify';
import { auditResult, type Store } from '../store/index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The audit log's name for what the route does, e.g. 'vm.rollback'. */
    action?: string;
  }
}

export function auditing(app: FastifyInstance, store: Store): void {
  app.addHook('onResponse', async (request, reply) => {
    if (request.method === 'GET' || request.method === 'HEAD' || !request.identity) return;
    const params = request.params as { id?: string } | undefined;
    store.appendAudit({
      role: request.identity.role,
      tokenLabel: request.identity.label,
      action: request.routeOptions.config.action ?? `${request.method} ${request.routeOptions.url ?? request.url}`,
      target: params?.id ?? null,
      parameters: request.body ?? null,
      result: reply.statusCode < 400 ? 'ok' : auditResult(request.failure ?? { code: String(reply.statusCode), message: 'refused' }),
      client: request.ip,
    });
  });
}
