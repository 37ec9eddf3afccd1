// Every mutation attempted through the API goes into the append-only audit
// log with its outcome, refusals included: a missing or invalid token (as
// 'anonymous'), a viewer's attempt, bad input, a VM in the wrong state.
// The body is recorded only for a caller with a valid token (a request
// refused at the door is never read; one without a route may be), and only
// up to a size.
// Requests refused by the rate limit are the one exception to "every": the
// first in a minute per caller is audited, the rest only counted (the rate
// limit exists to stop floods, which must not flood the log instead).
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { auditResult, type Store } from '../store/index.js';
import { isMutation } from './security.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The audit log's name for what the route does, e.g. 'vm.rollback'. */
    action?: string;
  }
}

const maxRememberedCallers = 10_000;
/** A body larger than this (as JSON) is audited by its size only. */
const maxAuditedBodyBytes = 4096;
/** A body nested deeper than this is audited by that fact only. */
const maxAuditedDepth = 64;

export const auditing = fp<{ store: Store }>(async (app, { store }) => {
  /** Caller -> the minute in which its last rate-limited request was audited. */
  const rateLimitedAudited = new Map<string, number>();
  const firstRateLimitedThisMinute = (request: FastifyRequest): boolean => {
    const minute = Math.floor(Date.now() / 60_000);
    if (rateLimitedAudited.get(request.rateLimitKey) === minute) return false;
    if (rateLimitedAudited.size >= maxRememberedCallers) rateLimitedAudited.clear();
    rateLimitedAudited.set(request.rateLimitKey, minute);
    return true;
  };

  app.addHook('onResponse', async (request, reply) => {
    // Refused at the host check, before anyone was identified: a misdirected browser, not a caller.
    if (!isMutation(request) || !request.credential) return;
    if (request.failure?.code === 'rate-limited' && !firstRateLimitedThisMinute(request)) return;
    const credential = request.credential;
    const params = request.params as { id?: unknown } | undefined;
    try {
      store.appendAudit({
        role: credential.kind === 'token' ? credential.identity.role : 'anonymous',
        tokenLabel: credential.kind === 'token' ? credential.identity.label : credential.kind === 'invalid' ? 'invalid token' : 'no token',
        action: request.routeOptions.config.action ?? `${request.method} ${truncate(request.routeOptions.url ?? request.url.split('?')[0] ?? '')}`,
        target: typeof params?.id === 'string' ? truncate(params.id) : null,
        parameters: credential.kind === 'token' ? bounded(request.body) : null,
        result: reply.statusCode < 400 ? 'ok' : auditResult(request.failure ?? { code: String(reply.statusCode), message: 'refused' }),
        client: request.ip,
      });
    } catch (error) {
      // An onResponse hook's failure goes nowhere on its own: a lost row must at least be in the log.
      request.log.error({ err: error }, `audit row not written for ${request.method} ${truncate(request.url)}`);
    }
  });
}, { name: 'uckpt-audit' });

function bounded(body: unknown): unknown {
  if (body === undefined || body === null) return null;
  // A 64 KiB body can nest 30 000 levels: past JSON.stringify's recursion, and SQLite's JSON stops at 1000.
  if (nestedDeeperThan(body, maxAuditedDepth)) return { omitted: `a body nested more than ${maxAuditedDepth} levels deep` };
  const bytes = Buffer.byteLength(JSON.stringify(body) ?? '');
  return bytes > maxAuditedBodyBytes ? { omitted: `a body of ${bytes} bytes` } : body;
}

function nestedDeeperThan(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, depth] = next;
    if (typeof item !== 'object' || item === null) continue;
    if (depth >= limit) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
