// Who may do what, decided on the route a request matched: never on how its
// URL was spelled. Every route needs an operator token unless it says
// otherwise in its config (`access: 'viewer'` for reads, `'public'` for the
// few things anyone may fetch), so a route that forgets to say is closed,
// not open. The hooks run for every request, WebSocket upgrades included
// (plugins/security.ts puts them in order).
//
// Browsers cannot set headers on a WebSocket, so there the token travels as
// a subprotocol: `bearer.<token>` next to `uckpt.v1`.
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Identity, TokenRing } from '../service/tokens.js';
import { HttpError } from './errors.js';

/** What a route asks of its caller. */
export type Access = 'public' | 'viewer' | 'operator';

/** What a request presented: a valid token's identity, a token that is not valid, or nothing. */
export type Credential = { kind: 'token'; identity: Identity } | { kind: 'invalid' } | { kind: 'none' };

export const telemetryProtocol = 'uckpt.v1';
const bearerProtocolPrefix = 'bearer.';
const defaultAccess: Access = 'operator';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; operator when not said. */
    access?: Access;
  }
  interface FastifyRequest {
    /** Set for every request that passed the host check. */
    credential: Credential | null;
    /** The caller's identity once its token is known to be valid; null otherwise. */
    identity: Identity | null;
  }
}

/** The access a request needs: its route's, or nothing for the not-found handler (it serves only the app shell or a 404). */
export function requiredAccess(request: FastifyRequest): Access {
  if (request.is404) return 'public';
  return request.routeOptions.config.access ?? defaultAccess;
}

/** Reads the caller's token, if any, into request.credential and request.identity. */
export function identifyCaller(app: FastifyInstance, tokens: TokenRing): onRequestAsyncHookHandler {
  app.decorateRequest('credential', null);
  app.decorateRequest('identity', null);
  return async (request) => {
    request.credential = credentialOf(request, tokens);
    request.identity = request.credential.kind === 'token' ? request.credential.identity : null;
  };
}

/** Lets the request through only if its credential gives the access its route asks for. */
export async function authorize(request: FastifyRequest): Promise<void> {
  const access = requiredAccess(request);
  if (access === 'public') return;
  const { credential } = request;
  if (!credential || credential.kind === 'none') throw new HttpError(401, 'unauthorized', 'a bearer token is required (Authorization: Bearer <token>)');
  if (credential.kind === 'invalid') throw new HttpError(401, 'unauthorized', 'the token is not valid');
  if (access === 'operator' && credential.identity.role !== 'operator') {
    throw new HttpError(403, 'forbidden', `the ${credential.identity.role} role may not ${request.method} ${request.routeOptions.url}; an operator token is needed`);
  }
}

/** Marks every route registered in this plugin's scope public (the dashboard's files, the API description). */
export function markRoutesPublic(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, access: 'public' };
  });
}

function credentialOf(request: FastifyRequest, tokens: TokenRing): Credential {
  const token = presentedToken(request);
  if (token === null) return { kind: 'none' };
  const identity = token === '' ? null : tokens.identify(token);
  return identity ? { kind: 'token', identity } : { kind: 'invalid' };
}

/** The token in the Authorization header, else in a `bearer.` WebSocket subprotocol; '' for a malformed one. */
function presentedToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header !== undefined) return /^Bearer +(\S+) *$/i.exec(header)?.[1] ?? '';
  const protocols = request.headers['sec-websocket-protocol'];
  if (typeof protocols !== 'string') return null;
  for (const protocol of protocols.split(',')) {
    const trimmed = protocol.trim();
    if (trimmed.startsWith(bearerProtocolPrefix)) return trimmed.slice(bearerProtocolPrefix.length);
  }
  return null;
}
