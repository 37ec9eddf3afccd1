// The checks every request passes before any route sees it, in order:
//  1. Host (and a WebSocket's Origin) on the allowlist: no DNS rebinding;
//  2. who is asking: the token, if any;
//  3. the rate limit, per token (per address without a valid one), counting
//     every request, those refused below included;
//  4. access: what the matched route asks for (plugins/access.ts).
// Plus the browser-facing headers (CSP, nosniff, no framing, no referrer)
// on every answer, from @fastify/helmet.
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { TokenRing } from '../service/tokens.js';
import { authorize, identifyCaller } from './access.js';
import { HttpError } from './errors.js';
import { checkHost } from './host-allowlist.js';

export interface RateLimits {
  /** Mutations (anything but GET and HEAD) per caller per minute. */
  mutationsPerMinute: number;
  /** Reads per caller per minute. */
  readsPerMinute: number;
}

export const defaultRateLimits: RateLimits = { mutationsPerMinute: 120, readsPerMinute: 1200 };

export interface SecurityOptions {
  tokens: TokenRing;
  allowedHosts: readonly string[];
  rateLimits: RateLimits;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the rate limit counts this request against: a token's label or the client's address. */
    rateLimitKey: string;
  }
}

export function isMutation(request: FastifyRequest): boolean {
  return request.method !== 'GET' && request.method !== 'HEAD';
}

export const security = fp<SecurityOptions>(async (app, { tokens, allowedHosts, rateLimits }) => {
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        // The dashboard sets element styles from script (charts); no inline <style> or style="" is needed.
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        upgradeInsecureRequests: null,
      },
    },
    // Same-origin dashboard: no cross-origin isolation needed, and none wanted from HSTS on plain-HTTP loopback.
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' },
  });
  await app.register(fastifyRateLimit, { global: false });
  app.decorateRequest('rateLimitKey', '');

  app.addHook('onRequest', checkHost(allowedHosts));
  app.addHook('onRequest', identifyCaller(app, tokens));
  app.addHook('onRequest', app.rateLimit({
    timeWindow: 60_000,
    keyGenerator: (request) => {
      request.rateLimitKey = request.identity ? `token ${request.identity.label}` : `address ${request.ip}`;
      return `${isMutation(request) ? 'mutations' : 'reads'} of ${request.rateLimitKey}`;
    },
    max: (request) => (isMutation(request) ? rateLimits.mutationsPerMinute : rateLimits.readsPerMinute),
    errorResponseBuilder: (request, context) =>
      new HttpError(429, 'rate-limited', `more than ${context.max} ${isMutation(request) ? 'mutations' : 'requests'} a minute from this client; retry in ${context.after}`),
  }));
  app.addHook('onRequest', authorize);
}, { name: 'uckpt-security' });
