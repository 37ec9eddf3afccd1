// Authentication and authorization, as one onRequest hook that the
// WebSocket route shares. Everything under /api, /ws and /metrics needs a
// token except the health check; viewers may read, operators may also act.
// Browsers cannot set headers on a WebSocket, so there the token travels as
// a subprotocol: `bearer.<token>` next to `uckpt.v1`.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Identity, TokenRing } from '../service/tokens.js';
import { HttpError } from './errors.js';

const publicPaths = new Set(['/api/health', '/api/openapi.json']);
const protectedPrefixes = ['/api/', '/ws/', '/metrics'];
export const telemetryProtocol = 'uckpt.v1';
const bearerProtocolPrefix = 'bearer.';

export function authentication(app: FastifyInstance, tokens: TokenRing): void {
  app.decorateRequest('identity', null);
  app.addHook('onRequest', async (request) => {
    const pathname = request.url.split('?')[0] ?? '';
    if (publicPaths.has(pathname) || !protectedPrefixes.some((prefix) => pathname.startsWith(prefix) || pathname === prefix.slice(0, -1))) {
      return;
    }
    const token = presentedToken(request);
    if (!token) throw new HttpError(401, 'unauthorized', 'a bearer token is required (Authorization: Bearer <token>)');
    const identity = tokens.identify(token);
    if (!identity) throw new HttpError(401, 'unauthorized', 'the token is not valid');
    request.identity = identity;
    const mutation = request.method !== 'GET' && request.method !== 'HEAD';
    if (mutation && identity.role !== 'operator') {
      throw new HttpError(403, 'forbidden', `the ${identity.role} role may not ${request.method} ${pathname}; an operator token is needed`);
    }
  });
}

function presentedToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1] ?? null;
  }
  const protocols = request.headers['sec-websocket-protocol'];
  if (typeof protocols === 'string') {
    for (const protocol of protocols.split(',')) {
      const trimmed = protocol.trim();
      if (trimmed.startsWith(bearerProtocolPrefix)) return trimmed.slice(bearerProtocolPrefix.length);
    }
  }
  return null;
}

declare module 'fastify' {
  interface FastifyRequest {
    identity: Identity | null;
  }
}
