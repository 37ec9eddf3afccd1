// Answers only requests addressed to a name this server is known by. A page
// on any site can make a browser send requests to 127.0.0.1 under its own
// host name (DNS rebinding): its requests carry that name in Host, which is
// not on the list, and get 421. WebSocket upgrades from a page of another
// origin are refused the same way (Origin is checked when a browser sends it).
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { onRequestAsyncHookHandler } from 'fastify';
import { HttpError } from './errors.js';

export const loopbackHosts = ['localhost', '127.0.0.1', '::1'];

/**
 * The names a server listening on `listenHost` answers to: the loopback
 * names, the listen address itself, the host's own interface addresses when
 * it listens on all of them, and whatever the operator adds.
 */
export function allowedHostsFor(listenHost: string, extra: readonly string[] = []): string[] {
  const names = new Set([...loopbackHosts, ...extra.map(normalize)]);
  if (listenHost === '0.0.0.0' || listenHost === '::') {
    for (const addresses of Object.values(networkInterfaces())) {
      for (const { address } of addresses ?? []) names.add(normalize(address));
    }
  } else {
    names.add(normalize(listenHost));
  }
  return [...names];
}

/** Refuses requests whose Host (or, for a WebSocket, Origin) is not one of `allowedHosts`. */
export function checkHost(allowedHosts: readonly string[]): onRequestAsyncHookHandler {
  const allowed = new Set(allowedHosts.map(normalize));
  return async (request) => {
    const host = hostName(request.headers.host);
    if (host === null || !allowed.has(host)) {
      throw new HttpError(421, 'misdirected', `this server does not answer to the host name in the request (${truncate(request.headers.host ?? 'none')}); see --allow-host`);
    }
    const origin = request.headers.origin;
    if (origin !== undefined && request.headers.upgrade !== undefined && !allowed.has(originHost(origin) ?? '')) {
      throw new HttpError(403, 'forbidden', `WebSocket connections from ${truncate(origin)} are not allowed`);
    }
  };
}

/** The host name of a Host header, lower-cased and without port or IPv6 brackets; null if it is not one. */
export function hostName(header: string | undefined): string | null {
  // A name, an IPv4 address or a bracketed IPv6 one, and a port: nothing that URL parsing would quietly drop (user info, paths).
  if (!header || !/^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(header)) return null;
  try {
    return normalize(new URL(`http://${header}`).hostname);
  } catch {
    return null;
  }
}

function originHost(origin: string): string | null {
  try {
    return normalize(new URL(origin).hostname);
  } catch {
    return null;
  }
}

function normalize(name: string): string {
  const lower = name.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  return isIP(lower) === 6 ? lower.replace(/%.*$/, '') : lower;
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
