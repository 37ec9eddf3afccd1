// Request generators for the HTTP fuzz, built with fast-check from the live
// OpenAPI document. A generated request is a plan (plain data, cheap to hold
// ten thousand of) that is turned into bytes only when sent, because the VM
// ids it names come from the pool of VMs alive at that moment.
//
// Classes, by what they try:
//   valid     requests the document allows, with the operator token
//   authz     valid requests with no token, a wrong or malformed one, or a viewer's for a mutation
//   mutated   valid bodies with wrong types, huge numbers, unknown fields, missing ones, long strings
//   deep      bodies nested thousands of levels deep, at the top or in a field
//   random    random methods, paths, queries and bytes
//   encoding  API paths spelled oddly: escapes, dot segments, doubled slashes, absolute form, case
//   content   bodies in odd media types, charsets, content encodings, chunked, lengths that disagree
//   oversize  bodies past the server's body limit, declared or real
//   host      Host headers a DNS-rebinding page or a broken client would send
//   headers   header sections a parser must survive: huge, many, duplicated, malformed
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { arbitraryFor, type OpenApiDoc, type Operation } from './openapi-schema.ts';
import type { RawRequest } from './raw-http.ts';
import type { Tokens } from './server-process.ts';

export type RequestClass = 'valid' | 'authz' | 'mutated' | 'deep' | 'random' | 'encoding' | 'content' | 'oversize' | 'host' | 'headers';

/** How a request presents (or fails to present) a token. */
export type Auth =
  | 'operator'
  | 'viewer'
  | 'none'
  | 'invalid'
  | 'malformed'
  | 'basic'
  | 'empty-bearer'
  | 'lowercase-operator'
  | 'subprotocol-operator'
  | 'subprotocol-viewer';

export type HostChoice = 'normal' | 'localhost' | 'missing' | 'evil' | 'upper' | 'trailing-dot' | 'userinfo' | 'ipv6' | 'other-port' | 'with-path' | 'empty';

export type Spelling =
  | 'plain'
  | 'pct-letter'
  | 'pct-all'
  | 'double-slash'
  | 'dot-segment'
  | 'dotdot-segment'
  | 'encoded-dot'
  | 'encoded-slash'
  | 'trailing-slash'
  | 'upper-case'
  | 'semicolon'
  | 'absolute-form'
  | 'absolute-form-evil'
  | 'backslash'
  | 'nul'
  | 'overlong-utf8'
  | 'bad-escape'
  | 'fullwidth'
  | 'long-path'
  | 'fragment'
  | 'query-junk';

/** A VM id: one of the pool's (by index, resolved when sent), or a literal string. */
export type IdChoice = { pool: number } | { literal: string };

export type BodySpec =
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: number[] }
  /** `open` x depth, `inner`, `close` x depth, optionally as the value of `field` in an otherwise valid object. */
  | { kind: 'deep'; depth: number; open: string; close: string; inner: string; field: string | null; base: unknown }
  | { kind: 'oversize'; bytes: number; fill: 'json-string' | 'junk' | 'array' | 'field' };

export interface RequestPlan {
  class: RequestClass;
  method: string;
  /** A path template ('/api/vms/{id}') or a literal path. */
  template: string;
  id: IdChoice | null;
  query: string;
  spelling: Spelling;
  auth: Auth;
  host: HostChoice;
  contentType: string | null;
  headers: [string, string][];
  body: BodySpec | null;
  encoding: 'identity' | 'gzip-real' | 'gzip-claimed' | 'deflate-claimed' | 'utf16' | 'latin1';
  framing: 'length' | 'chunked' | 'no-length' | 'short-length' | 'huge-length';
}

export interface Materialized {
  request: RawRequest;
  /** The token label the audit log should record for it. */
  tokenLabel: string;
}

const allAuths: Auth[] = ['operator', 'viewer', 'none', 'invalid', 'malformed', 'basic', 'empty-bearer', 'lowercase-operator', 'subprotocol-operator', 'subprotocol-viewer'];
const badAuths: Auth[] = ['viewer', 'none', 'invalid', 'malformed', 'basic', 'empty-bearer', 'subprotocol-viewer'];
const spellings: Spelling[] = [
  'plain', 'pct-letter', 'pct-all', 'double-slash', 'dot-segment', 'dotdot-segment', 'encoded-dot', 'encoded-slash', 'trailing-slash',
  'upper-case', 'semicolon', 'absolute-form', 'absolute-form-evil', 'backslash', 'nul', 'overlong-utf8', 'bad-escape', 'fullwidth',
  'long-path', 'fragment', 'query-junk',
];
const oddHosts: HostChoice[] = ['localhost', 'missing', 'evil', 'upper', 'trailing-dot', 'userinfo', 'ipv6', 'other-port', 'with-path', 'empty'];
const oddMethods = ['OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'SEARCH', 'PURGE', 'FOO', 'get', 'CONNECT', 'PUT', 'LOCK', 'M-SEARCH'];
const pathWords = ['api', 'vms', 'config', 'checkpoints', 'rollback', 'faults', 'events', 'console', 'audit', 'session', 'health', 'metrics',
  'ws', 'telemetry', 'docs', 'openapi.json', 'model', 'availability', 'workloads', '..', '.', '', '%2e%2e', 'static', 'json', 'yaml'];

/** Ids that are not any VM's: well-formed, malformed, hostile. */
const strangeIds = fc.oneof(
  fc.stringMatching(/^vm-[0-9a-f]{12}$/),
  fc.stringMatching(/^vm-[0-9a-f]{33,40}$/),
  fc.constantFrom('vm-', 'VM-ABC', '..', '%2e%2e', 'vm-0%00', "vm-1' OR '1'='1", 'vm-1;DROP TABLE vms', '__proto__', 'constructor', 'x'.repeat(300)),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
);

const idChoice: fc.Arbitrary<IdChoice> = fc.oneof(
  { weight: 4, arbitrary: fc.nat(31).map((pool) => ({ pool })) },
  { weight: 1, arbitrary: strangeIds.map((literal) => ({ literal })) },
);

function queryFor(operation: Operation, doc: OpenApiDoc): fc.Arbitrary<string> {
  const names = Object.keys(operation.query);
  if (names.length === 0) return fc.constant('');
  const values = Object.fromEntries(names.map((name) => [name, arbitraryFor(operation.query[name]!, doc)]));
  return fc.record(values, { requiredKeys: [] }).map((query) =>
    Object.entries(query).map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`).join('&'),
  );
}

const junkQuery = fc.oneof(
  fc.constantFrom('limit=1&limit=2', '__proto__[x]=1', 'constructor.prototype.x=1', 'limit=-1', 'limit=1e999', 'limit=0x10', 'limit=%00',
    'vmId=' + 'a'.repeat(5000), 'a'.repeat(10_000), '&&&==&', 'types=alert,,alert', 'since=NaN', 'lines=1.5', '%zz', 'x=%C0%AE'),
  fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 5 }).map((query) =>
    Object.entries(query).map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join('&'),
  ),
);

function base(operation: Operation): Omit<RequestPlan, 'class' | 'query' | 'id' | 'body'> {
  return {
    method: operation.method,
    template: operation.template,
    spelling: 'plain',
    auth: 'operator',
    host: 'normal',
    contentType: operation.body ? 'application/json' : null,
    headers: [],
    encoding: 'identity',
    framing: 'length',
  };
}

/** A valid request for one operation of the document; `bodies` is the arbitrary of its valid bodies. */
function validFor(operation: Operation, doc: OpenApiDoc, bodies: fc.Arbitrary<unknown>): fc.Arbitrary<RequestPlan> {
  const body: fc.Arbitrary<BodySpec | null> = operation.body ? bodies.map((value) => ({ kind: 'json' as const, value })) : fc.constant(null);
  return fc.record({ query: queryFor(operation, doc), id: operation.pathParams.length ? idChoice : fc.constant(null), body }).map(
    ({ query, id, body: value }) => ({ ...base(operation), class: 'valid' as const, query, id, body: value }),
  );
}

/** Mutations of a valid JSON body, as text (some cannot be expressed as a value: 1e400, duplicate keys). */
const bodyMutation = (operation: Operation, valid: fc.Arbitrary<unknown>): fc.Arbitrary<BodySpec> => {
  const fields = Object.keys(operation.body?.properties ?? {});
  const field = fields.length ? fc.constantFrom(...fields) : fc.constant('x');
  const wrongValue = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }),
    fc.object({ maxDepth: 2 }),
    fc.constantFrom('', ' ', 'true', '1', 'NaN', '-1', 'latest ', 'LATEST', 'safe\u0000', '\ud800', '🦀'.repeat(20)),
  );
  const bigNumber = fc.constantFrom('1e400', '-1e400', '1e-400', '9007199254740993', '-9007199254740993', '123456789012345678901234567890',
    '-0', '0.0000001', '1.0', '1E+2', '4294967296', '-2147483649', '18446744073709551616', '1.5', '0x10', '1_000', '+1', '.5', 'NaN', 'Infinity');
  const key = fc.oneof(
    fc.string({ minLength: 1, maxLength: 20 }),
    fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'settings', 'domid', 'id', 'role'),
  );
  const asObject = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...value } : {});
  const text = (value: unknown): BodySpec => ({ kind: 'text', text: JSON.stringify(value) ?? 'null' });
  return fc.oneof(
    // a field of the wrong type
    fc.tuple(valid, field, wrongValue).map(([value, name, wrong]) => text({ ...asObject(value), [name]: wrong })),
    // a number past what JSON parsers agree on
    fc.tuple(valid, field, bigNumber).map(([value, name, number]) => ({
      kind: 'text' as const,
      text: JSON.stringify({ ...asObject(value), [name]: '\u0001BIG\u0001' }).replace('"\u0001BIG\u0001"', number),
    })),
    // unknown fields, prototype-polluting ones included
    fc.tuple(valid, fc.array(fc.tuple(key, fc.jsonValue({ maxDepth: 2 })), { minLength: 1, maxLength: 4 })).map(([value, extra]) => {
      const object = asObject(value);
      for (const [name, wrong] of extra) Object.defineProperty(object, name, { value: wrong, enumerable: true, configurable: true, writable: true });
      return text(object);
    }),
    // a required field left out
    fc.tuple(valid, field).map(([value, name]) => {
      const object = asObject(value);
      delete object[name];
      return text(object);
    }),
    // not an object at all
    fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(null, 0, '', [], true, [{}], 'to', { settings: null })).map(text),
    // long strings
    fc.tuple(valid, field, fc.integer({ min: 1000, max: 60_000 }), fc.constantFrom('a', '\u00e9', '\\u0000', '🦀')).map(([value, name, length, unit]) => ({
      kind: 'text' as const,
      text: JSON.stringify({ ...asObject(value), [name]: '\u0001LONG\u0001' }).replace('\u0001LONG\u0001', unit.repeat(Math.floor(length / unit.length / 2))),
    })),
    // duplicate keys: which one wins?
    fc.tuple(valid, field, wrongValue).map(([value, name, wrong]) => {
      const json = JSON.stringify(asObject(value));
      return { kind: 'text' as const, text: `{${JSON.stringify(name)}:${JSON.stringify(wrong) ?? 'null'},${json.slice(1)}` };
    }),
    // broken JSON
    fc.tuple(valid, fc.constantFrom('truncate', 'garbage', 'bom', 'comment', 'single-quotes', 'trailing-comma', 'nan', 'empty', 'whitespace')).map(([value, how]) => {
      const json = JSON.stringify(asObject(value));
      const broken: Record<string, string> = {
        truncate: json.slice(0, Math.max(1, json.length - 3)),
        garbage: `${json}}}}garbage`,
        bom: `\ufeff${json}`,
        comment: `/* c */${json}`,
        'single-quotes': json.replaceAll('"', "'"),
        'trailing-comma': json.length > 2 ? `${json.slice(0, -1)},}` : '{,}',
        nan: '{"to": NaN}',
        empty: '',
        whitespace: ' \n\t ',
      };
      return { kind: 'text' as const, text: broken[how]! };
    }),
  );
};

const deepBody = (operation: Operation, bodies: fc.Arbitrary<unknown>): fc.Arbitrary<BodySpec> => {
  const fields = Object.keys(operation.body?.properties ?? {});
  return fc.record({
    depth: fc.oneof(fc.integer({ min: 50, max: 2000 }), fc.integer({ min: 2000, max: 32_000 })),
    shape: fc.constantFrom(
      { open: '[', close: ']', inner: '1' },
      { open: '{"a":', close: '}', inner: '1' },
      { open: '[{"x":', close: '}]', inner: 'null' },
      { open: '{"__proto__":', close: '}', inner: '{}' },
    ),
    field: fields.length ? fc.option(fc.constantFrom(...fields), { nil: null }) : fc.constant(null),
    base: bodies,
  }).map(({ depth, shape, field, base: value }) => ({ kind: 'deep' as const, depth, ...shape, field, base: value }));
};

function randomPlan(operations: Operation[]): fc.Arbitrary<RequestPlan> {
  const segment = fc.oneof(fc.constantFrom(...pathWords), fc.stringMatching(/^[A-Za-z0-9._~%-]{0,12}$/), strangeIds);
  return fc.record({
    method: fc.oneof(fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'HEAD'), fc.constantFrom(...oddMethods)),
    path: fc.oneof(
      fc.array(segment, { minLength: 1, maxLength: 6 }).map((segments) => `/${segments.join('/')}`),
      fc.constantFrom(...operations.map((operation) => operation.template)),
    ),
    query: fc.oneof(fc.constant(''), junkQuery),
    auth: fc.constantFrom(...allAuths),
    body: fc.option(fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((value): BodySpec => ({ kind: 'json', value })),
      fc.uint8Array({ maxLength: 2000 }).map((bytes): BodySpec => ({ kind: 'bytes', bytes: [...bytes] })),
      fc.string({ maxLength: 500, unit: 'binary' }).map((text): BodySpec => ({ kind: 'text', text })),
    ), { nil: null }),
    contentType: fc.option(fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', 'application/x-www-form-urlencoded'), { nil: null }),
  }).map(({ method, path, query, auth, body, contentType }) => ({
    class: 'random' as const,
    method,
    template: path,
    id: path.includes('{id}') ? { pool: 0 } : null,
    query,
    spelling: 'plain' as const,
    auth,
    host: 'normal' as const,
    contentType: body ? contentType : null,
    headers: [],
    body,
    encoding: 'identity' as const,
    framing: 'length' as const,
  }));
}

/** Every class of request, weighted; `operations` from the live document. */
export function requestPlans(doc: OpenApiDoc, operations: Operation[]): fc.Arbitrary<RequestPlan> {
  // Built once per operation (building an arbitrary, a pattern's above all, costs far more than drawing from it).
  const perOperation = operations.map((operation) => {
    const bodies = operation.body ? arbitraryFor(operation.body, doc) : fc.constant({});
    return { operation, bodies, valid: validFor(operation, doc, bodies) };
  });
  const withBody = perOperation.filter(({ operation }) => operation.body);
  const valid = fc.oneof(...perOperation.map(({ valid: plans }) => plans));
  const validWithBody = fc.oneof(...withBody.map(({ valid: plans }) => plans));

  const authz = fc.tuple(valid, fc.constantFrom(...badAuths)).map(([plan, auth]): RequestPlan => ({ ...plan, class: 'authz', auth }));
  const mutated = fc.oneof(...withBody.map(({ operation, bodies, valid: plans }) =>
    fc.tuple(plans, bodyMutation(operation, bodies), fc.constantFrom<Auth>('operator', 'operator', 'operator', 'viewer', 'none', 'invalid'))
      .map(([plan, body, auth]): RequestPlan => ({ ...plan, class: 'mutated', body, auth })),
  ));
  const deep = fc.oneof(...withBody.map(({ operation, bodies, valid: plans }) =>
    fc.tuple(plans, deepBody(operation, bodies), fc.constantFrom<Auth>('operator', 'operator', 'none', 'viewer'))
      .map(([plan, body, auth]): RequestPlan => ({ ...plan, class: 'deep', body, auth })),
  ));
  const encoding = fc.tuple(valid, fc.constantFrom(...spellings.filter((spelling) => spelling !== 'plain')), fc.constantFrom(...allAuths), fc.option(junkQuery, { nil: null }))
    .map(([plan, spelling, auth, query]): RequestPlan => ({ ...plan, class: 'encoding', spelling, auth, query: spelling === 'query-junk' ? (query ?? 'a=1&a=2') : plan.query }));
  const content = fc.tuple(
    validWithBody,
    fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16le',
      'application/json; charset=latin1', 'APPLICATION/JSON', 'application/json, text/plain', 'application/vnd.api+json', '', 'application/json;;',
      'application/json; charset="utf-8"', 'application/jsonx', 'text/json', null, 'application/json'),
    fc.constantFrom<RequestPlan['encoding']>('identity', 'identity', 'gzip-real', 'gzip-claimed', 'deflate-claimed', 'utf16', 'latin1'),
    fc.constantFrom<RequestPlan['framing']>('length', 'length', 'chunked', 'no-length', 'short-length'),
    fc.constantFrom<Auth>('operator', 'operator', 'viewer', 'none'),
  ).map(([plan, contentType, encodingKind, framing, auth]): RequestPlan => ({ ...plan, class: 'content', contentType, encoding: encodingKind, framing, auth }));
  const oversize = fc.tuple(
    validWithBody,
    fc.oneof(fc.integer({ min: 64 * 1024 + 1, max: 256 * 1024 }), fc.integer({ min: 256 * 1024, max: 3 << 20 })),
    fc.constantFrom<'json-string' | 'junk' | 'array' | 'field'>('json-string', 'junk', 'array', 'field'),
    fc.constantFrom<RequestPlan['framing']>('length', 'length', 'chunked', 'huge-length'),
    fc.constantFrom<Auth>('operator', 'none', 'viewer'),
  ).map(([plan, bytes, fill, framing, auth]): RequestPlan => ({ ...plan, class: 'oversize', body: { kind: 'oversize', bytes, fill }, framing, auth }));
  const host = fc.tuple(valid, fc.constantFrom(...oddHosts), fc.constantFrom<Auth>('operator', 'none'))
    .map(([plan, choice, auth]): RequestPlan => ({ ...plan, class: 'host', host: choice, auth }));
  const headers = fc.tuple(valid, fc.constantFrom('huge', 'many', 'dup-length', 'bad-name', 'obs-fold', 'nul', 'dup-auth', 'long-auth', 'x-forwarded', 'te-cl'))
    .map(([plan, kind]): RequestPlan => ({ ...plan, class: 'headers', headers: oddHeaders(kind), framing: kind === 'te-cl' ? 'chunked' : plan.framing }));

  return fc.oneof(
    { weight: 18, arbitrary: valid },
    { weight: 12, arbitrary: authz },
    { weight: 20, arbitrary: mutated },
    { weight: 5, arbitrary: deep },
    { weight: 10, arbitrary: randomPlan(operations) },
    { weight: 14, arbitrary: encoding },
    { weight: 8, arbitrary: content },
    { weight: 4, arbitrary: oversize },
    { weight: 4, arbitrary: host },
    { weight: 5, arbitrary: headers },
  );
}

function oddHeaders(kind: string): [string, string][] {
  switch (kind) {
    case 'huge':
      return [['X-Huge', 'a'.repeat(20_000)]];
    case 'many':
      return Array.from({ length: 300 }, (_, i) => [`X-H${i}`, String(i)] as [string, string]);
    case 'dup-length':
      return [['Content-Length', '0']];
    case 'bad-name':
      return [['Bad Name', 'x']];
    case 'obs-fold':
      return [['X-Folded', 'a\r\n b']];
    case 'nul':
      return [['X-Nul', 'a\u0000b']];
    case 'dup-auth':
      return [['Authorization', 'Bearer not-a-token-but-long-enough']];
    case 'long-auth':
      return [['X-Long', 'Bearer '.repeat(1000)]];
    case 'x-forwarded':
      return [['X-Forwarded-For', '10.0.0.1'], ['X-Forwarded-Host', 'localhost'], ['X-Real-IP', '10.0.0.2'], ['Forwarded', 'for=10.0.0.3']];
    case 'te-cl':
      return [['Content-Length', '5']];
    default:
      return [];
  }
}

export interface MaterializeContext {
  port: number;
  tokens: Tokens;
  /** VM ids the fuzz may act on; a plan's {pool: n} takes pool[n % length]. */
  pool: readonly string[];
}

/** The bytes of a plan, against the pool of VM ids as it is now. */
export function materialize(plan: RequestPlan, context: MaterializeContext): Materialized {
  const id = plan.id === null ? null : 'literal' in plan.id ? plan.id.literal : (context.pool[plan.id.pool % Math.max(1, context.pool.length)] ?? 'vm-000000000000');
  const concretePath = id === null ? plan.template : plan.template.replaceAll('{id}', id);
  const target = spell(concretePath, plan.spelling, context.port) + (plan.query ? `?${plan.query}` : '');
  const headers: [string, string][] = [];
  const host = hostHeader(plan.host, context.port);
  if (host !== null) headers.push(['Host', host]);
  headers.push(...authHeaders(plan.auth, context.tokens));
  let body = bodyBytes(plan.body);
  if (body !== undefined && plan.contentType !== null) headers.push(['Content-Type', plan.contentType]);
  if (body !== undefined) {
    if (plan.encoding === 'gzip-real') {
      body = gzipSync(body);
      headers.push(['Content-Encoding', 'gzip']);
    } else if (plan.encoding === 'gzip-claimed') headers.push(['Content-Encoding', 'gzip']);
    else if (plan.encoding === 'deflate-claimed') headers.push(['Content-Encoding', 'deflate, br']);
    else if (plan.encoding === 'utf16') body = Buffer.from(body.toString('utf8'), 'utf16le');
    else if (plan.encoding === 'latin1') body = Buffer.from(body.toString('utf8'), 'latin1');
  }
  headers.push(...plan.headers);
  const request: RawRequest = { method: plan.method, target, headers };
  if (body !== undefined) {
    request.body = body;
    if (plan.framing === 'chunked') request.chunked = true;
    if (plan.framing === 'no-length') request.noContentLength = true;
    if (plan.framing === 'short-length') {
      request.noContentLength = true;
      headers.push(['Content-Length', String(Math.floor(body.length / 2))]);
    }
    if (plan.framing === 'huge-length') {
      // Declared far past the limit: the server must refuse on the header, not wait for a terabyte.
      request.noContentLength = true;
      headers.push(['Content-Length', String(1e12)]);
    }
  }
  return { request, tokenLabel: tokenLabelOf(plan.auth) };
}

export function tokenLabelOf(auth: Auth): string {
  if (auth === 'operator' || auth === 'lowercase-operator' || auth === 'subprotocol-operator') return 'operator:env';
  if (auth === 'viewer' || auth === 'subprotocol-viewer') return 'viewer:env';
  return auth === 'none' ? 'no token' : 'invalid token';
}

function authHeaders(auth: Auth, tokens: Tokens): [string, string][] {
  switch (auth) {
    case 'operator':
      return [['Authorization', `Bearer ${tokens.operator}`]];
    case 'viewer':
      return [['Authorization', `Bearer ${tokens.viewer}`]];
    case 'none':
      return [];
    case 'invalid':
      return [['Authorization', `Bearer ${tokens.operator.slice(0, -1)}x`]];
    case 'malformed':
      return [['Authorization', `Bearer ${tokens.operator} extra`]];
    case 'basic':
      return [['Authorization', `Basic ${Buffer.from(`operator:${tokens.operator}`).toString('base64')}`]];
    case 'empty-bearer':
      return [['Authorization', 'Bearer']];
    case 'lowercase-operator':
      return [['Authorization', `bearer ${tokens.operator}`]];
    case 'subprotocol-operator':
      return [['Sec-WebSocket-Protocol', `uckpt.v1, bearer.${tokens.operator}`]];
    case 'subprotocol-viewer':
      return [['Sec-WebSocket-Protocol', `bearer.${tokens.viewer}`]];
  }
}

function hostHeader(choice: HostChoice, port: number): string | null {
  switch (choice) {
    case 'normal':
      return `127.0.0.1:${port}`;
    case 'localhost':
      return `localhost:${port}`;
    case 'missing':
      return null;
    case 'evil':
      return `evil.example:${port}`;
    case 'upper':
      return `LOCALHOST:${port}`;
    case 'trailing-dot':
      return `localhost.:${port}`;
    case 'userinfo':
      return `user@127.0.0.1:${port}`;
    case 'ipv6':
      return `[::1]:${port}`;
    case 'other-port':
      return '127.0.0.1:1';
    case 'with-path':
      return `127.0.0.1:${port}/x`;
    case 'empty':
      return '';
  }
}

/** The same path as a different string a lax router might take for it. */
export function spell(path: string, spelling: Spelling, port: number): string {
  const letters = [...path].map((char, i) => ({ char, i })).filter(({ char }) => /[a-z]/i.test(char));
  const pick = letters[Math.floor(letters.length / 2)];
  switch (spelling) {
    case 'plain':
      return path;
    case 'pct-letter':
      return pick ? `${path.slice(0, pick.i)}%${pick.char.charCodeAt(0).toString(16)}${path.slice(pick.i + 1)}` : path;
    case 'pct-all':
      return path.replace(/[a-z]/gi, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
    case 'double-slash':
      return path.replaceAll('/', '//');
    case 'dot-segment':
      return path.replace(/\//g, (_, offset: number) => (offset === 0 ? '/./' : '/./'));
    case 'dotdot-segment':
      return path.replace(/^\/([^/]+)/, '/$1/x/..');
    case 'encoded-dot':
      return path.replace(/^\/([^/]+)/, '/$1/%2e/x/%2E%2E');
    case 'encoded-slash':
      return path.replace(/\/(?=[^/]*$)/, '%2F');
    case 'trailing-slash':
      return `${path}/`;
    case 'upper-case':
      return path.toUpperCase();
    case 'semicolon':
      return `${path};jsessionid=1`;
    case 'absolute-form':
      return `http://127.0.0.1:${port}${path}`;
    case 'absolute-form-evil':
      return `http://evil.example${path}`;
    case 'backslash':
      return path.replaceAll('/', '\\');
    case 'nul':
      return `${path}%00`;
    case 'overlong-utf8':
      return path.replace(/^\/([^/]+)/, '/$1/%c0%ae%c0%ae/x');
    case 'bad-escape':
      return `${path}%zz%`;
    case 'fullwidth':
      return path.replace(/[a-z]/, (char) => encodeURIComponent(String.fromCharCode(char.charCodeAt(0) + 0xfee0)));
    case 'long-path':
      return `${path}/${'a'.repeat(20_000)}`;
    case 'fragment':
      return `${path}#frag`;
    case 'query-junk':
      return path;
  }
}

function bodyBytes(body: BodySpec | null): Buffer | undefined {
  if (body === null) return undefined;
  switch (body.kind) {
    case 'json':
      return Buffer.from(JSON.stringify(body.value) ?? 'null', 'utf8');
    case 'text':
      return Buffer.from(body.text, 'utf8');
    case 'bytes':
      return Buffer.from(body.bytes);
    case 'deep': {
      const nested = `${body.open.repeat(body.depth)}${body.inner}${body.close.repeat(body.depth)}`;
      if (body.field === null) return Buffer.from(nested, 'utf8');
      const object = typeof body.base === 'object' && body.base !== null ? { ...body.base } : {};
      return Buffer.from(JSON.stringify({ ...object, [body.field]: '\u0001DEEP\u0001' }).replace('"\u0001DEEP\u0001"', nested), 'utf8');
    }
    case 'oversize': {
      const n = body.bytes;
      if (body.fill === 'junk') return Buffer.alloc(n, 0x41);
      if (body.fill === 'array') return Buffer.from(`[${'1,'.repeat(Math.floor(n / 2) - 1)}1]`, 'utf8');
      if (body.fill === 'field') return Buffer.from(`{"name":"big","workload":"${'w'.repeat(n)}","backend":"sim"}`, 'utf8');
      return Buffer.from(JSON.stringify('x'.repeat(n)), 'utf8');
    }
  }
}
