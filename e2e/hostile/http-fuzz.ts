// Sends the generated requests to the live server, a few at a time, and
// judges every answer: no 5xx (beyond the documented refusals), no mutation
// done without the operator's token, no data given without a token, every
// error in the API's shape, every mutation attempt entered in the audit
// ledger (audit-check.ts compares it with the log afterwards).
import type { AuditLedger } from './audit-check.ts';
import { materialize, type RequestClass, type RequestPlan } from './openapi-requests.ts';
import { jsonBody, sendRaw, type RawResponse } from './raw-http.ts';
import { Tally, type Verdict } from './report.ts';
import type { Tokens } from './server-process.ts';

/** 5xx answers the API documents as deliberate: a backend this host cannot run, a fault kind a backend lacks. */
const designed5xx = new Set(['503 backend-unavailable', '501 unsupported']);
/** Words only an authenticated answer carries. */
const privateMarkers = ['"vms"', '"entries"', '"settings"', '"role"', '# HELP', '"checkpoints"', '"lines"', '"events"', '"injections"', '"workloads"', '"seq"'];

export interface HttpFuzzFigures {
  sent: number;
  byStatus: Tally;
  byClass: Record<string, Tally>;
  /** Where each answer came from: the application, the HTTP parser, Fastify outside the app's hooks, or nothing. */
  byOrigin: Tally;
  mutations: number;
  designed5xx: number;
  /** Slowest answer, ms. */
  maxLatencyMs: number;
}

export interface HttpFuzzContext {
  port: number;
  tokens: Tokens;
  ledger: AuditLedger;
  verdict: Verdict;
  /** The VM ids requests may name now (refreshed between batches). */
  pool: () => readonly string[];
  /** Every VM id the server ever showed: none may appear in an answer to a caller without a token. */
  knownIds: () => Iterable<string>;
  concurrency: number;
  /** Called between batches (refresh the pool, check the server lives); a rejection stops the run. */
  betweenBatches: (sent: number) => Promise<void>;
  batchSize: number;
}

type Origin = 'app' | 'parser' | 'framework' | 'none';

export function newHttpFigures(): HttpFuzzFigures {
  return { sent: 0, byStatus: new Tally(), byClass: {}, byOrigin: new Tally(), mutations: 0, designed5xx: 0, maxLatencyMs: 0 };
}

export async function runHttpFuzz(plans: RequestPlan[], context: HttpFuzzContext, figures: HttpFuzzFigures): Promise<void> {
  for (let start = 0; start < plans.length; start += context.batchSize) {
    const batch = plans.slice(start, start + context.batchSize);
    let next = 0;
    const worker = async () => {
      while (next < batch.length) {
        const plan = batch[next++]!;
        await sendOne(plan, context, figures);
      }
    };
    await Promise.all(Array.from({ length: context.concurrency }, worker));
    await context.betweenBatches(start + batch.length);
  }
}

async function sendOne(plan: RequestPlan, context: HttpFuzzContext, figures: HttpFuzzFigures): Promise<void> {
  const { request, tokenLabel } = materialize(plan, { port: context.port, tokens: context.tokens, pool: context.pool() });
  const started = performance.now();
  const large = (request.body?.length ?? 0) > 64 * 1024;
  const outcome = await sendRaw(request, { port: context.port, timeoutMs: 30_000, ...(large ? { headFirstMs: 150 } : {}) });
  figures.maxLatencyMs = Math.max(figures.maxLatencyMs, performance.now() - started);
  figures.sent++;
  const classTally = (figures.byClass[plan.class] ??= new Tally());
  const mutation = plan.method !== 'GET' && plan.method !== 'HEAD';
  if (mutation) figures.mutations++;
  const describe = () => `${plan.class} ${request.method} ${request.target.slice(0, 120)} (${tokenLabel})`;

  if (outcome.kind === 'no-answer' && large && /EPIPE|ECONNRESET/.test(outcome.error)) {
    // A body past the limit, refused once the server had read its limit's worth: it closed with the rest unread,
    // and the reset that makes can overtake its answer. The request was answered (and audited), its status is lost.
    figures.byStatus.add('reset while sending an oversize body');
    figures.byOrigin.add('app (answer lost to the reset)');
    classTally.add('4xx');
    if (mutation) context.ledger.expectAny(tokenLabel, `${plan.class} ${request.method} ${request.target.slice(0, 100)} (${outcome.error})`);
    return;
  }
  if (outcome.kind === 'no-answer') {
    figures.byStatus.add('no answer');
    figures.byOrigin.add('none');
    classTally.add('no answer');
    context.ledger.exemptFromAudit(`no answer (${plan.method === 'CONNECT' ? 'CONNECT: Node hands it to a connect listener, there is none' : outcome.error})`);
    // Node answers a CONNECT by closing (no listener); anything else must get an answer.
    if (plan.method !== 'CONNECT') context.verdict.fail(`no answer to ${describe()}: ${outcome.error}`);
    return;
  }
  const { response } = outcome;
  const body = jsonBody(response);
  const origin = originOf(response, body);
  const code = errorCode(body);
  const statusKey = `${response.status}${code ? ` ${code}` : ''}`;
  const label = origin === 'parser' ? `${response.status} (from the HTTP parser)` : plan.method === 'HEAD' && !code ? `${response.status} (HEAD: no body)` : statusKey;
  figures.byStatus.add(label);
  figures.byOrigin.add(origin);
  classTally.add(`${Math.floor(response.status / 100)}xx`);

  if (response.status >= 500) {
    if (designed5xx.has(statusKey)) figures.designed5xx++;
    else context.verdict.fail(`${statusKey} for ${describe()}: ${response.body.toString('utf8').slice(0, 200)}`);
  }
  if (origin === 'framework') {
    context.verdict.fail(`answered outside the application (no access check, rate limit, audit or security headers): ${response.status} ${response.body.toString('utf8').slice(0, 160)} for ${describe()}`);
  }
  if (origin === 'app' && response.headers['x-content-type-options'] !== 'nosniff') {
    context.verdict.fail(`answer without the security headers (X-Content-Type-Options) for ${describe()}`);
  }
  if (mutation && response.status < 300 && tokenLabel !== 'operator:env') {
    context.verdict.fail(`a mutation succeeded (${response.status}) without the operator's token: ${describe()}`);
  }
  if (response.status < 300 && (tokenLabel === 'no token' || tokenLabel === 'invalid token')) {
    const text = response.body.toString('utf8');
    const leaked = privateMarkers.find((marker) => text.includes(marker)) ?? [...context.knownIds()].find((id) => text.includes(id));
    if (leaked && !isPublicDocument(request.target)) context.verdict.fail(`data (${leaked}) given without a valid token: ${describe()}`);
  }

  if (!mutation) return;
  if (origin === 'parser') context.ledger.exemptFromAudit('rejected by the HTTP parser (never a request)');
  else if (response.status === 421 && code === 'misdirected') context.ledger.exemptFromAudit('refused at the Host check (421)');
  else context.ledger.expect(tokenLabel, response.status < 400 ? 'ok' : (code ?? String(response.status)), `${plan.class} ${request.method} ${request.target.slice(0, 100)} body ${request.body?.length ?? 0} B`);
}

/** The API description and its docs page are public and name the API's own words. */
function isPublicDocument(target: string): boolean {
  return /openapi\.json|\/docs/i.test(decodeURIComponentSafe(target));
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function errorCode(body: unknown): string | null {
  const error = (body as { error?: unknown } | null | undefined)?.error;
  if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') return (error as { code: string }).code;
  return null;
}

/**
 * The application answers errors as {error: {code, message}}; Node's parser
 * (through Fastify's clientError handler) as {error: 'Bad Request', message:
 * 'Client Error'}; Fastify's router, for a URL it cannot decode, answers
 * itself with {error, code: 'FST_ERR_...'} without running any hook.
 */
function originOf(response: RawResponse, body: unknown): Origin {
  const fields = body as { error?: unknown; code?: unknown; message?: unknown } | undefined;
  if (typeof fields === 'object' && fields !== null && typeof fields.error === 'string') {
    if (typeof fields.code === 'string' && fields.code.startsWith('FST_')) return 'framework';
    return 'parser';
  }
  if (response.status >= 400 && response.body.length === 0 && !response.headers['x-content-type-options']) return 'parser';
  return 'app';
}

export function classesOf(figures: HttpFuzzFigures): RequestClass[] {
  return Object.keys(figures.byClass) as RequestClass[];
}
