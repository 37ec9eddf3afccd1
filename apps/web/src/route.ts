// A hash router is all the dashboard needs: the server serves one page.
import { useEffect, useState } from 'react';

export type Route =
  | { page: 'list' }
  | { page: 'vm'; id: string }
  | { page: 'new' }
  | { page: 'domains' }
  | { page: 'audit' };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const vm = /^\/vms\/([^/]+)$/.exec(path);
  if (vm) return { page: 'vm', id: decodeURIComponent(vm[1]!) };
  if (path === '/new') return { page: 'new' };
  if (path === '/audit') return { page: 'audit' };
  if (path === '/domains') return { page: 'domains' };
  return { page: 'list' };
}

export const href = {
  list: '#/',
  vm: (id: string) => `#/vms/${encodeURIComponent(id)}`,
  create: '#/new',
  audit: '#/audit',
  domains: '#/domains',
};

export function navigate(to: string): void {
  window.location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
