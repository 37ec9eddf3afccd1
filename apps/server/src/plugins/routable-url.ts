// Fastify's router answers some request-targets itself, before any hook
// runs: a path it cannot percent-decode (a broken escape such as `%zz`, an
// invalid UTF-8 sequence such as `%c0%ae`) and a target that is neither a
// path nor an absolute http(s) URL. Those answers skip the access check,
// the rate limit, the audit log and the security headers, and are not in
// the API's error shape. Re-spelled with their '%' taken literally, such
// targets name no route and are answered 404 through every check, like any
// other unknown path.

/** The request-target as the router can take it: unchanged unless the router would refuse it. */
export function routableUrl(url: string): string {
  const absolute = /^https?:\/\/[^/?#]*/i.exec(url);
  const start = url.startsWith('/') ? 0 : absolute ? absolute[0].length : -1;
  if (start < 0) return `/${escapePercent(url)}`;
  const tail = url.slice(start).search(/[?#]/);
  const end = tail < 0 ? url.length : start + tail;
  const path = url.slice(start, end);
  if (!path.includes('%')) return url;
  try {
    decodeURIComponent(path);
    return url;
  } catch {
    return `${url.slice(0, start)}${escapePercent(path)}${url.slice(end)}`;
  }
}

function escapePercent(text: string): string {
  return text.replaceAll('%', '%25');
}
