// Frames of the agent protocol (4-byte big-endian length, then JSON) sent
// straight to a live agent's Unix socket, as a peer that got hold of it
// could: values that are not requests, ids and methods of the wrong type,
// hello with wrong protocol versions or another VM's id, requests before
// hello, bad parameters, partial frames, frames past the size limit (real
// or only declared), bodies that are not JSON, byte-by-byte dribbles and
// bursts. Generated with fast-check. Every frame has an expectation: an
// answer (with an error, or a result), nothing (no id to answer to), or the
// connection closed; the agent itself must live through all of it. It is
// never sent `stop` (that is a legitimate request), nor a valid fault.
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { Tally, type Verdict } from './report.ts';

const maxFrameBytes = 8 << 20;
const protocolVersion = 1;

type Expect = 'error' | 'result' | 'answer' | 'nothing' | 'close';

interface FramePlan {
  kind: string;
  /** Bytes to write; each inner buffer is one write (a dribble is many). */
  writes: Buffer[];
  expect: Expect;
  /** The id the answer carries, when one is expected. */
  id: number | null;
  /** Needs a connection that has not said hello. */
  ungreeted?: boolean;
  /** Closes the connection itself after writing (a partial frame). */
  hangUp?: boolean;
}

export interface AgentFrameFigures {
  frames: number;
  byKind: Tally;
  outcomes: Tally;
  errorCodes: Tally;
  connections: number;
  bytesSent: number;
}

export interface AgentFrameContext {
  socketPath: string;
  vmId: string;
  frames: number;
  seed: number;
  verdict: Verdict;
  progress: (message: string) => void;
}

export function frame(body: Buffer | string, claimedLength?: number): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(claimedLength ?? bytes.length);
  return Buffer.concat([head, bytes]);
}

const json = (value: unknown) => frame(JSON.stringify(value));

function framePlans(vmId: string): fc.Arbitrary<FramePlan> {
  const id = fc.integer({ min: 1, max: 2 ** 31 - 1 });
  const request = (kind: string, expect: Expect, method: unknown, params?: unknown) =>
    id.map((n): FramePlan => ({ kind, writes: [json(params === undefined ? { id: n, method } : { id: n, method, params })], expect, id: n }));
  const nonObject = fc.oneof(fc.constantFrom(null, 0, -1, 'status', '', true, false, [], [1, 2], [{ id: 1, method: 'status' }]), fc.jsonValue({ maxDepth: 2 }).filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)))
    .map((value): FramePlan => ({ kind: 'non-object', writes: [json(value)], expect: 'nothing', id: null }));
  const badId = fc.constantFrom(-1, 1.5, '1', null, 2 ** 60, Number.MAX_SAFE_INTEGER + 2, {}, [], true)
    .map((bad): FramePlan => ({ kind: 'bad-id', writes: [json({ id: bad, method: 'status' })], expect: 'nothing', id: null }));
  const missingId = fc.constant<FramePlan>({ kind: 'bad-id', writes: [json({ method: 'status' })], expect: 'nothing', id: null });
  const badMethod = fc.constantFrom(5, null, {}, [], '', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'STATUS', 'status ', 'x'.repeat(10_000), 'stop\u0000')
    .chain((method) => request('bad-method', 'error', method));
  const badParams = fc.tuple(fc.constantFrom('configure', 'rollback', 'inject', 'console', 'hello'), fc.constantFrom(5, [], 'x', true, [1]))
    .chain(([method, params]) => request('bad-params', 'error', method, params));
  const wrongVersion = fc.constantFrom(0, 2, -1, 1.5, '1', null, 1e300, 2 ** 53, protocolVersion + 1000)
    .chain((protocol) => request('wrong-version', 'error', 'hello', { protocol }));
  const wrongVm = fc.constantFrom('vm-000000000000', `${vmId}x`, vmId.toUpperCase(), 'x'.repeat(100_000), '', '../' + vmId)
    .chain((other) => request('wrong-vm', 'error', 'hello', { protocol: protocolVersion, vmId: other }));
  const wrongVmType = fc.constantFrom(5, null, [], {}).chain((other) => request('wrong-vm', 'error', 'hello', { protocol: protocolVersion, vmId: other }));
  const beforeHello = fc.constantFrom('status', 'checkpoints', 'console', 'faults', 'configure')
    .chain((method) => id.map((n): FramePlan => ({ kind: 'before-hello', writes: [json({ id: n, method, params: {} })], expect: 'error', id: n, ungreeted: true })));
  const validRead = fc.oneof(
    request('valid-read', 'result', 'status'),
    request('valid-read', 'result', 'checkpoints'),
    request('valid-read', 'result', 'faults'),
    fc.integer({ min: 0, max: 1000 }).chain((lines) => request('valid-read', 'result', 'console', { lines })),
    request('valid-read', 'result', 'hello', { protocol: protocolVersion, vmId }),
    request('valid-read', 'result', 'configure', {}),
  );
  const badValues = fc.oneof(
    fc.constantFrom(-1, 1.5, '1', null, 2 ** 60, 1e308, [], {}, 'latest ', 'LATEST', true).chain((to) => request('bad-rollback', 'error', 'rollback', { to })),
    request('bad-rollback', 'error', 'rollback', {}),
    fc.integer({ min: 2 ** 40, max: 2 ** 50 }).chain((to) => request('missing-checkpoint', 'error', 'rollback', { to })),
    fc.constantFrom<unknown>({ kind: 'nope' }, { kind: 5 }, {}, { kind: 'bit-flip', bits: -1 }, { kind: 'bit-flip', bits: 1.5 }, { kind: 'bit-flip', bits: '1' },
      { kind: 'bit-flip', region: 'kernel' }, { kind: 'register', register: 'zz' }, { kind: 'bit-flip', page: 2 ** 60 }, { kind: 'crash', register: 'rax' },
      { kind: '__proto__' }, { kind: 'checkpoint-page', seq: -1 })
      .chain((fault) => request('bad-inject', 'error', 'inject', fault)),
    fc.constantFrom<unknown>({ intervalMs: 0 }, { intervalMs: '50' }, { intervalMs: 1e12 }, { retention: -1 }, { mode: 'turbo' }, { unknown: 1 },
      JSON.parse('{"__proto__":{"intervalMs":1}}'), { enabled: 'yes' }, { overheadBudgetPct: Number.MAX_VALUE }, { predictor: null }, JSON.parse('{"constructor":{}}'))
      .chain((patch) => request('bad-configure', 'error', 'configure', patch)),
    fc.constantFrom(-1, 1001, 1.5, '10', 1e9).chain((lines) => request('bad-console', 'error', 'console', { lines })),
  );
  const partial = fc.tuple(fc.integer({ min: 10, max: 100_000 }), fc.double({ min: 0, max: 0.99, noNaN: true }))
    .map(([length, share]): FramePlan => ({
      kind: 'partial',
      writes: [frame(Buffer.alloc(Math.floor(length * share), 0x20), length).subarray(0, 4 + Math.floor(length * share))],
      expect: 'nothing',
      id: null,
      ungreeted: true,
      hangUp: true,
    }));
  const headerOnly = fc.constantFrom(Buffer.from([0, 0]), Buffer.from([0, 0, 0]), Buffer.from([0xff]))
    .map((bytes): FramePlan => ({ kind: 'partial', writes: [bytes], expect: 'nothing', id: null, ungreeted: true, hangUp: true }));
  const oversizeHeader = fc.constantFrom(maxFrameBytes + 1, 0xffffffff, 2 ** 31, 0x7fffffff)
    .map((claimed): FramePlan => ({ kind: 'oversize-declared', writes: [frame(Buffer.from('{"id":1'), claimed)], expect: 'close', id: null }));
  const oversizeBody = fc.constant<FramePlan>({ kind: 'oversize-real', writes: [frame(Buffer.alloc(maxFrameBytes + 1, 0x20))], expect: 'close', id: null });
  const bigValid = fc.tuple(id, fc.integer({ min: 1 << 20, max: 7 << 20 })).map(([n, pad]): FramePlan => ({
    kind: 'large-valid',
    writes: [json({ id: n, method: 'status', params: { pad: 'x'.repeat(pad) } })],
    expect: 'result',
    id: n,
  }));
  const notJson = fc.oneof(
    fc.constantFrom('{', '{"id":1,', 'undefined', "{'id':1}", '{"id":1}x', 'NaN', '\u0000', '{"id":1,"method":"status"', '\ufeff{"id":1}'),
    fc.string({ minLength: 1, maxLength: 200, unit: 'binary' }).filter((text) => {
      try {
        JSON.parse(text);
        return false;
      } catch {
        return true;
      }
    }),
  ).map((text): FramePlan => ({ kind: 'not-json', writes: [frame(text)], expect: 'close', id: null }));
  const empty = fc.constant<FramePlan>({ kind: 'not-json', writes: [frame(Buffer.alloc(0))], expect: 'close', id: null });
  const invalidUtf8 = id.map((n): FramePlan => ({
    kind: 'invalid-utf8',
    writes: [frame(Buffer.concat([Buffer.from(`{"id":${n},"method":"st`), Buffer.from([0xff, 0xfe]), Buffer.from('atus"}')]))],
    expect: 'error',
    id: n,
  }));
  const deep = fc.integer({ min: 1000, max: 200_000 }).map((depth): FramePlan => ({
    kind: 'deep',
    writes: [frame(`${'['.repeat(depth)}${']'.repeat(depth)}`)],
    // A parser may refuse nesting that deep (the connection closes) or accept it (an array: no id, dropped).
    expect: 'nothing',
    id: null,
  }));
  const dribble = id.map((n): FramePlan => {
    const bytes = json({ id: n, method: 'status' });
    return { kind: 'dribble', writes: [...bytes].map((byte) => Buffer.from([byte])), expect: 'result', id: n };
  });
  const burst = fc.array(id, { minLength: 2, maxLength: 50 }).map((ids): FramePlan => ({
    kind: 'burst',
    writes: [Buffer.concat(ids.map((n) => json({ id: n, method: 'status' })))],
    expect: 'result',
    id: ids.at(-1)!,
  }));
  return fc.oneof(
    { weight: 10, arbitrary: nonObject },
    { weight: 6, arbitrary: fc.oneof(badId, missingId) },
    { weight: 8, arbitrary: badMethod },
    { weight: 8, arbitrary: badParams },
    { weight: 8, arbitrary: wrongVersion },
    { weight: 5, arbitrary: fc.oneof(wrongVm, wrongVmType) },
    { weight: 4, arbitrary: beforeHello },
    { weight: 10, arbitrary: validRead },
    { weight: 14, arbitrary: badValues },
    { weight: 5, arbitrary: fc.oneof(partial, headerOnly) },
    { weight: 4, arbitrary: oversizeHeader },
    { weight: 1, arbitrary: oversizeBody },
    { weight: 1, arbitrary: bigValid },
    { weight: 6, arbitrary: fc.oneof(notJson, empty) },
    { weight: 3, arbitrary: invalidUtf8 },
    { weight: 2, arbitrary: deep },
    { weight: 2, arbitrary: dribble },
    { weight: 3, arbitrary: burst },
  );
}

/** One connection to the agent, reading its answers (and events) frame by frame. */
class PeerConnection {
  readonly socket: Socket;
  readonly answers = new Map<number, { error?: { code: string }; result?: unknown }>();
  closed = false;
  #pending = Buffer.alloc(0);
  #waiters: (() => void)[] = [];

  constructor(socketPath: string) {
    this.socket = connect(socketPath);
    this.socket.on('data', (chunk) => {
      this.#pending = Buffer.concat([this.#pending, chunk]);
      while (this.#pending.length >= 4) {
        const length = this.#pending.readUInt32BE(0);
        if (this.#pending.length < 4 + length) break;
        const message = JSON.parse(this.#pending.subarray(4, 4 + length).toString('utf8')) as { id?: number; error?: { code: string }; result?: unknown };
        this.#pending = this.#pending.subarray(4 + length);
        if (typeof message.id === 'number') this.answers.set(message.id, message);
      }
      this.#wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    this.socket.on('error', () => undefined);
  }

  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
  }

  write(bytes: Buffer): void {
    if (!this.closed) this.socket.write(bytes);
  }

  /** Waits until `done()` holds or the connection closes, at most `ms`. */
  async until(done: () => boolean, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done() && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

export async function runAgentFrames(context: AgentFrameContext): Promise<AgentFrameFigures> {
  const figures: AgentFrameFigures = { frames: 0, byKind: new Tally(), outcomes: new Tally(), errorCodes: new Tally(), connections: 0, bytesSent: 0 };
  const open = async (greet: boolean): Promise<PeerConnection> => {
    const peer = new PeerConnection(context.socketPath);
    await peer.ready();
    figures.connections++;
    if (greet) {
      peer.write(json({ id: 0, method: 'hello', params: { protocol: protocolVersion, vmId: context.vmId } }));
      await peer.until(() => peer.answers.has(0), 5000);
      if (!peer.answers.get(0)?.result) throw new Error(`the agent of ${context.vmId} did not answer hello: ${JSON.stringify(peer.answers.get(0))}`);
    }
    return peer;
  };
  // A peer that says hello and then never reads: the agent must not be hurt by it.
  const deaf = await open(true);
  deaf.socket.pause();

  let main = await open(true);
  const plans = fc.sample(framePlans(context.vmId), { seed: context.seed, numRuns: context.frames });
  for (const [index, plan] of plans.entries()) {
    figures.frames++;
    figures.byKind.add(plan.kind);
    const peer = plan.ungreeted || plan.hangUp ? await open(false) : main;
    // Answers left over from a burst must not pass for this frame's (generated ids may repeat).
    peer.answers.clear();
    for (const bytes of plan.writes) {
      peer.write(bytes);
      figures.bytesSent += bytes.length;
    }
    if (plan.hangUp) {
      peer.socket.end();
      await peer.until(() => false, 20);
      figures.outcomes.add('hung up after a partial frame');
      peer.socket.destroy();
      continue;
    }
    const describe = `${plan.kind} frame #${index} (${plan.writes[0]!.subarray(4, 124).toString('utf8')})`;
    if (plan.expect === 'close') {
      await peer.until(() => false, 5000);
      figures.outcomes.add(peer.closed ? 'connection closed by the agent' : 'connection left open');
      context.verdict.check(peer.closed, `the agent kept a connection open after a ${describe}`);
    } else if (plan.expect === 'nothing') {
      // Follow with a request: its answer shows the frame before was read and dropped (or the connection was closed).
      const probe = 2 ** 31 + index;
      peer.write(json({ id: probe, method: 'status' }));
      await peer.until(() => peer.answers.has(probe), 5000);
      figures.outcomes.add(peer.closed ? 'connection closed by the agent' : peer.answers.has(probe) ? 'dropped (no id to answer)' : 'no answer to the probe');
      context.verdict.check(peer.closed || peer.answers.has(probe), `the agent stopped answering after a ${describe}`);
    } else {
      await peer.until(() => peer.answers.has(plan.id!), 10_000);
      const answer = peer.answers.get(plan.id!);
      if (!answer) {
        figures.outcomes.add(peer.closed ? 'connection closed by the agent' : 'no answer');
        context.verdict.fail(`no answer to a ${describe}${peer.closed ? ' (the agent closed the connection)' : ''}`);
      } else if (answer.error) {
        figures.outcomes.add('error answer');
        figures.errorCodes.add(answer.error.code);
        context.verdict.check(plan.expect !== 'result', `a ${describe} got an error (${answer.error.code}) where a result was expected`);
      } else {
        figures.outcomes.add('result');
        context.verdict.check(plan.expect !== 'error', `a ${describe} was accepted (it should have been refused)`);
      }
      peer.answers.delete(plan.id!);
    }
    if (peer !== main) peer.socket.destroy();
    else if (main.closed) main = await open(true);
    if ((index + 1) % 500 === 0) context.progress(`agent frames: ${index + 1}/${plans.length} sent`);
  }
  main.socket.destroy();
  deaf.socket.destroy();
  return figures;
}
