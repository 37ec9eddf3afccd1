// The telemetry WebSocket under abuse: handshakes without or with wrong
// credentials, foreign origins and odd paths; then messages generated with
// fast-check (junk text, binary, invalid UTF-8, oversize, protocol
// violations, fragments, pings, floods of subscriptions to thousands of
// ids) on connections that read and on connections that never read while
// telemetry pours in. Afterwards a well-behaved client must still get its
// events, and the server must still be alive with bounded memory.
import fc from 'fast-check';
import { auditCodeOf } from './api-client.ts';
import type { AuditLedger } from './audit-check.ts';
import { jsonBody } from './raw-http.ts';
import { encodeWsFrame, opcodes, RawWebSocket, type HandshakeOptions } from './raw-websocket.ts';
import { Tally, type Verdict } from './report.ts';
import type { Tokens } from './server-process.ts';

type MessageKind = 'valid' | 'junk-text' | 'binary' | 'flood' | 'fragmented' | 'ping' | 'stalled-junk' | 'invalid-utf8' | 'oversize' | 'protocol';

interface MessagePlan {
  kind: MessageKind;
  /** Frames to send, in order (a fragmented message is several). */
  frames: Buffer[];
  /** For the kinds after which the server must close: the close code it should send. */
  expectClose: number | null;
}

export interface WsFigures {
  /** Frames sent, by kind of message. */
  messages: Tally;
  handshakes: Tally;
  closeCodes: Tally;
  errorReplies: number;
  junkOnReadingClients: number;
  connections: number;
  stalledClients: number;
  subscriptionIdsSent: number;
  serverRssBeforeFloodBytes: number | null;
  serverRssAfterFloodBytes: number | null;
  healthyClientGotEpoch: boolean;
}

export interface WsContext {
  port: number;
  tokens: Tokens;
  verdict: Verdict;
  /** A handshake with a method other than GET is a mutation attempt: it goes into the audit ledger. */
  ledger: AuditLedger;
  seed: number;
  /** Frames to send in all. */
  messages: number;
  /** VM ids that exist (valid subscriptions use them; the healthy client waits for one's epochs). */
  vmIds: readonly string[];
  serverRss: () => number | null;
  /** Makes telemetry pour (a VM checkpointing every millisecond) while stalled clients sit unread; false turns it back. */
  pump: (on: boolean) => Promise<void>;
  progress: (message: string) => void;
}

const subprotocols = (token: string) => ['uckpt.v1', `bearer.${token}`];
/** How much the server may grow while the abuse goes on: stalled clients' buffers, telemetry, the garbage collector's slack. */
const maxGrowthMiB = 32;

function messagePlans(vmIds: readonly string[]): fc.Arbitrary<MessagePlan> {
  const text = (value: string | Buffer, options = {}) => encodeWsFrame(opcodes.text, Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'), options);
  const plan = (kind: MessageKind, frames: Buffer[], expectClose: number | null = null): MessagePlan => ({ kind, frames, expectClose });
  const vmList = fc.oneof(fc.constant('*' as const), fc.subarray([...vmIds]), fc.array(fc.stringMatching(/^vm-[0-9a-f]{12}$/), { maxLength: 5 }));
  const valid = fc.record({ type: fc.constantFrom('subscribe', 'unsubscribe'), vms: vmList }).map((m) => plan('valid', [text(JSON.stringify(m))]));
  const junkValue = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ maxLength: 200, unit: 'binary' }),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.constantFrom('{"type":"subscribe"}', '{"type":"subscribe","vms":5}', '{"type":"subscribe","vms":[1,2]}', '{"type":"subscribe","vms":"vm-1"}',
      '{"type":"SUBSCRIBE","vms":"*"}', '{"type":"subscribe","vms":["' + 'v'.repeat(65) + '"]}', '{"__proto__":{"type":"subscribe"},"vms":"*"}',
      '{"type":"subscribe","vms":' + JSON.stringify(Array.from({ length: 1025 }, (_, i) => `vm-${i}`)) + '}', 'null', '[]', '', ' ', '{'),
    fc.integer({ min: 100, max: 20_000 }).map((n) => `[${'['.repeat(n)}${']'.repeat(n)}]`),
  );
  const junk = junkValue.map((value) => plan('junk-text', [text(value)]));
  const binary = fc.uint8Array({ maxLength: 4096 }).map((bytes) => plan('binary', [encodeWsFrame(opcodes.binary, Buffer.from(bytes))]));
  // Mostly adding to what the connection already asked for; now and then starting over.
  const flood = fc.tuple(fc.integer({ min: 0, max: 19 }).map((n) => n === 0), fc.integer({ min: 0, max: 2 ** 30 })).map(([resetFirst, salt]) => {
    const ids = Array.from({ length: 1024 }, (_, i) => `vm-${(salt + i * 7919).toString(16).padStart(12, '0')}${'f'.repeat(40)}`.slice(0, 64));
    const frames = [text(JSON.stringify({ type: 'subscribe', vms: ids }))];
    if (resetFirst) frames.unshift(text(JSON.stringify({ type: 'unsubscribe', vms: '*' })));
    return plan('flood', frames);
  });
  const fragmented = fc.tuple(valid, fc.integer({ min: 1, max: 4 })).map(([whole, parts]) => {
    // Re-frame the one valid message's payload as a first frame plus continuations.
    const payload = Buffer.from(JSON.stringify({ type: 'subscribe', vms: '*' }), 'utf8');
    const size = Math.ceil(payload.length / (parts + 1));
    const frames: Buffer[] = [];
    for (let at = 0, i = 0; at < payload.length; at += size, i++) {
      const last = at + size >= payload.length;
      frames.push(encodeWsFrame(i === 0 ? opcodes.text : opcodes.continuation, payload.subarray(at, at + size), { fin: last }));
    }
    return plan('fragmented', frames.length ? frames : whole.frames);
  });
  const ping = fc.uint8Array({ maxLength: 125 }).map((bytes) => plan('ping', [encodeWsFrame(opcodes.ping, Buffer.from(bytes))]));
  const invalidUtf8 = fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x7b, 0x22, 0xf8, 0x88, 0x80, 0x80, 0x80, 0x22, 0x7d])
    .map((bytes) => plan('invalid-utf8', [encodeWsFrame(opcodes.text, Buffer.from(bytes))], 1007));
  const oversize = fc.integer({ min: 64 * 1024 + 1, max: 512 * 1024 }).map((n) => plan('oversize', [text('x'.repeat(n))], 1009));
  const protocol = fc.constantFrom(
    plan('protocol', [encodeWsFrame(opcodes.text, Buffer.from('{"type":"subscribe","vms":"*"}'), { mask: false })], 1002),
    plan('protocol', [encodeWsFrame(0x3, Buffer.from('x'))], 1002),
    plan('protocol', [encodeWsFrame(0xb, Buffer.from('x'))], 1002),
    plan('protocol', [encodeWsFrame(opcodes.text, Buffer.from('x'), { rsv: 0b100 })], 1002),
    plan('protocol', [encodeWsFrame(opcodes.ping, Buffer.alloc(126, 1))], 1002),
    plan('protocol', [encodeWsFrame(opcodes.ping, Buffer.from('x'), { fin: false })], 1002),
    plan('protocol', [encodeWsFrame(opcodes.continuation, Buffer.from('x'))], 1002),
    plan('protocol', [encodeWsFrame(opcodes.text, Buffer.from('x'), { fin: false }), encodeWsFrame(opcodes.text, Buffer.from('y'))], 1002),
    plan('protocol', [encodeWsFrame(opcodes.text, Buffer.alloc(0), { claimedLength: 2n ** 63n - 1n })], 1009),
    plan('protocol', [encodeWsFrame(opcodes.close, Buffer.from([0x03, 0xe7]))], 1002),
  );
  return fc.oneof(
    { weight: 8, arbitrary: valid },
    { weight: 25, arbitrary: junk },
    { weight: 6, arbitrary: binary },
    { weight: 22, arbitrary: flood },
    { weight: 5, arbitrary: fragmented },
    { weight: 6, arbitrary: ping },
    { weight: 10, arbitrary: junk.map((p) => ({ ...p, kind: 'stalled-junk' as const })) },
    { weight: 4, arbitrary: invalidUtf8 },
    { weight: 4, arbitrary: oversize },
    { weight: 10, arbitrary: protocol },
  );
}

export async function runWsAbuse(context: WsContext): Promise<WsFigures> {
  const figures: WsFigures = {
    messages: new Tally(),
    handshakes: new Tally(),
    closeCodes: new Tally(),
    errorReplies: 0,
    junkOnReadingClients: 0,
    connections: 0,
    stalledClients: 0,
    subscriptionIdsSent: 0,
    serverRssBeforeFloodBytes: null,
    serverRssAfterFloodBytes: null,
    healthyClientGotEpoch: false,
  };
  await handshakeAbuse(context, figures);

  const open = async (): Promise<RawWebSocket> => {
    const handshake = await RawWebSocket.open({ port: context.port, protocols: subprotocols(context.tokens.viewer) });
    figures.connections++;
    if (handshake.kind !== 'open') throw new Error(`a viewer's WebSocket was refused: ${handshake.response?.status ?? handshake.error}`);
    return handshake.socket;
  };
  const readers = await Promise.all([open(), open(), open()]);
  const flooders = await Promise.all([open(), open()]);
  // From "every VM" to an explicit list, which the floods then grow.
  for (const client of flooders) client.sendText(JSON.stringify({ type: 'unsubscribe', vms: '*' }));
  const stalled = await Promise.all(Array.from({ length: 8 }, () => open()));
  for (const client of stalled) {
    client.sendText(JSON.stringify({ type: 'subscribe', vms: '*' }));
    client.stopReading();
  }
  figures.stalledClients = stalled.length;
  figures.serverRssBeforeFloodBytes = context.serverRss();
  await context.pump(true);

  // Plans are drawn until their frames reach the budget.
  const drawn = fc.sample(messagePlans(context.vmIds), { seed: context.seed, numRuns: context.messages });
  let frames = 0;
  let turn = 0;
  for (const plan of drawn) {
    if (frames >= context.messages) break;
    frames += plan.frames.length;
    figures.messages.add(plan.kind, plan.frames.length);
    if (plan.kind === 'flood') figures.subscriptionIdsSent += 1024;
    if (plan.expectClose !== null) {
      const client = await open();
      for (const frame of plan.frames) client.send(frame);
      const closed = await client.closedWithin(5000);
      figures.closeCodes.add(closed ? String(client.closeCode ?? 'no close frame') : 'still open');
      context.verdict.check(closed, `the server kept a WebSocket open after a ${plan.kind} frame (expected close ${plan.expectClose})`);
      client.destroy();
    } else if (plan.kind === 'flood') {
      for (const frame of plan.frames) flooders[turn % flooders.length]!.send(frame);
    } else if (plan.kind === 'stalled-junk') {
      for (const frame of plan.frames) stalled[turn % stalled.length]!.send(frame);
    } else {
      const client = readers[turn % readers.length]!;
      for (const frame of plan.frames) client.send(frame);
      if (plan.kind === 'junk-text' || plan.kind === 'binary') figures.junkOnReadingClients++;
    }
    turn++;
    if (turn % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    if (turn % 500 === 0) context.progress(`ws: ${frames}/${context.messages} frames sent`);
  }
  // Let the server work through what it was sent, telemetry still pouring into the stalled clients.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  figures.serverRssAfterFloodBytes = context.serverRss();
  await context.pump(false);
  const grownMiB = ((figures.serverRssAfterFloodBytes ?? 0) - (figures.serverRssBeforeFloodBytes ?? 0)) / (1 << 20);
  context.verdict.check(
    grownMiB <= maxGrowthMiB,
    `the server grew by ${grownMiB.toFixed(1)} MiB while ${figures.subscriptionIdsSent} subscription ids and ${frames} frames came in (bound ${maxGrowthMiB} MiB): what a client asks for must not be held without limit`,
  );

  const countReplies = () => readers.reduce((sum, client) => sum + client.errorMessages, 0);
  const deadline = Date.now() + 5000;
  while (countReplies() < figures.junkOnReadingClients && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  figures.errorReplies = countReplies();
  context.verdict.check(
    figures.errorReplies === figures.junkOnReadingClients,
    `${figures.junkOnReadingClients} junk messages on reading clients got ${figures.errorReplies} error answers (one each expected)`,
  );
  for (const client of [...readers, ...flooders]) {
    context.verdict.check(!client.ended, 'the server closed a client that sent only junk or subscriptions (it should answer, not hang up)');
  }

  // A well-behaved client after all that: it must hear its VM's epochs.
  const healthy = await open();
  const vmId = context.vmIds[0];
  if (vmId) {
    healthy.sendText(JSON.stringify({ type: 'unsubscribe', vms: '*' }));
    healthy.sendText(JSON.stringify({ type: 'subscribe', vms: [vmId] }));
    const epoch = await healthy.waitFor((m) => (m as { type?: string; vmId?: string })?.type === 'epoch' && (m as { vmId?: string }).vmId === vmId, 8000);
    figures.healthyClientGotEpoch = epoch !== null;
    context.verdict.check(epoch !== null, `after the abuse a well-behaved WebSocket client got no epoch of ${vmId} within 8 s`);
  }
  for (const client of [...readers, ...flooders, ...stalled, healthy]) client.destroy();
  return figures;
}

/** Upgrades the server must refuse (or, for the valid ones, accept), counted by answer; no 101 without a valid token. */
async function handshakeAbuse(context: WsContext, figures: WsFigures): Promise<void> {
  const { port, tokens } = context;
  const cases: { name: string; options: HandshakeOptions; mayOpen: boolean; tokenLabel?: string }[] = [
    { name: 'no token', options: { port, protocols: ['uckpt.v1'] }, mayOpen: false },
    { name: 'wrong token', options: { port, protocols: subprotocols('not-the-token-0123456789') }, mayOpen: false },
    { name: 'empty bearer', options: { port, protocols: ['uckpt.v1', 'bearer.'] }, mayOpen: false },
    { name: 'viewer header', options: { port, headers: { Authorization: `Bearer ${tokens.viewer}` } }, mayOpen: true },
    { name: 'operator subprotocol', options: { port, protocols: subprotocols(tokens.operator) }, mayOpen: true },
    { name: 'foreign origin', options: { port, protocols: subprotocols(tokens.viewer), headers: { Origin: 'http://evil.example' } }, mayOpen: false },
    { name: 'null origin', options: { port, protocols: subprotocols(tokens.viewer), headers: { Origin: 'null' } }, mayOpen: false },
    { name: 'same origin', options: { port, protocols: subprotocols(tokens.viewer), headers: { Origin: `http://127.0.0.1:${port}` } }, mayOpen: true },
    { name: 'foreign host', options: { port, protocols: subprotocols(tokens.viewer), headers: { Host: 'evil.example' } }, mayOpen: false },
    { name: 'version 7', options: { port, protocols: subprotocols(tokens.viewer), headers: { 'Sec-WebSocket-Version': '7' } }, mayOpen: false },
    { name: 'no key', options: { port, protocols: subprotocols(tokens.viewer), headers: { 'Sec-WebSocket-Key': null } }, mayOpen: false },
    { name: 'POST upgrade', options: { port, method: 'POST', protocols: subprotocols(tokens.viewer) }, mayOpen: false, tokenLabel: 'viewer:env' },
    { name: 'DELETE upgrade', options: { port, method: 'DELETE', protocols: ['uckpt.v1'] }, mayOpen: false, tokenLabel: 'no token' },
    { name: 'upgrade on /api/vms', options: { port, path: '/api/vms', protocols: ['uckpt.v1'] }, mayOpen: false },
  ];
  for (const path of ['/ws//telemetry', '/WS/telemetry', '/ws/telemetry/', '/ws/%74elemetry', '/ws/./telemetry', '/ws/x/../telemetry', '//ws/telemetry', `http://127.0.0.1:${port}/ws/telemetry`, '/ws/telemetry?x=1', '/ws/telemetry%00']) {
    cases.push({ name: `no token, ${path}`, options: { port, path, protocols: ['uckpt.v1'] }, mayOpen: false });
  }
  for (const { name, options, mayOpen, tokenLabel } of cases) {
    const handshake = await RawWebSocket.open(options);
    figures.connections++;
    const status = handshake.kind === 'open' ? 101 : (handshake.response?.status ?? 0);
    figures.handshakes.add(`${status}`);
    if (options.method && options.method !== 'GET' && handshake.kind === 'refused' && handshake.response) {
      context.ledger.expect(tokenLabel ?? '?', auditCodeOf(status, jsonBody(handshake.response)), `WebSocket handshake ${name}`);
    }
    if (handshake.kind === 'open') handshake.socket.destroy();
    context.verdict.check(status < 500 && status !== 0, `WebSocket handshake "${name}" answered ${status || (handshake.kind === 'refused' ? handshake.error : '')}`);
    if (!mayOpen) context.verdict.check(status !== 101, `WebSocket handshake "${name}" was accepted`);
    else context.verdict.check(status === 101, `WebSocket handshake "${name}" was refused (${status})`);
  }
}
