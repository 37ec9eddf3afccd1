// `pnpm fuzz`: a live `uckpt serve` (fresh state directory, tokens from the
// environment, fault injection on) with simulated VMs, attacked through all
// three of its surfaces, then judged:
//   1. HTTP: requests generated from its own OpenAPI document (valid,
//      unauthorized, mutated, random, oddly spelled, oddly encoded,
//      oversize, deeply nested), at rate limits high enough not to interfere;
//   2. the telemetry WebSocket (ws-abuse.ts);
//   3. a live agent's Unix socket (agent-frames.ts);
//   4. the audit log must hold a row for every mutation attempt;
//   5. the rate limits, after a restart at low limits: per token, per
//      address, refused requests counted, a 429 audited once a minute.
// Asserted throughout: no 5xx (beyond documented refusals), server and
// every agent alive, server memory bounded. Prints tables, writes
// e2e/hostile/results/fuzz.json, exits 1 on any violated assertion.
//
//   pnpm fuzz [-- --requests 10000 --ws-messages 2000 --agent-frames 2000 --seed S --max-rss-mib 384 --keep]
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { runAgentFrames, type AgentFrameFigures } from './agent-frames.ts';
import { Api } from './api-client.ts';
import { auditRowsAfter, compareAudit, AuditLedger, lastAuditId, resultCode, type AuditComparison } from './audit-check.ts';
import { newHttpFigures, runHttpFuzz, type HttpFuzzFigures } from './http-fuzz.ts';
import { MemoryWatch, mib } from './memory-watch.ts';
import { operationsOf, type OpenApiDoc } from './openapi-schema.ts';
import { requestPlans } from './openapi-requests.ts';
import { figures, progress, table, Tally, Verdict, writeResults } from './report.ts';
import { freePort } from '../lib/server.ts';
import { agentProcesses, scratchStateDir, ServerProcess, sleep, stillRunning, type Tokens } from './server-process.ts';
import { auditAgents, createSimVm, listVms, terminalStates, waitRunning, type VmView } from './vms.ts';
import { runWsAbuse, type WsFigures } from './ws-abuse.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    'ws-messages': { type: 'string', default: '2000' },
    'agent-frames': { type: 'string', default: '2000' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '12' },
    'max-rss-mib': { type: 'string', default: '384' },
    keep: { type: 'boolean', default: false },
  },
});
const count = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
};
const settings = {
  requests: count('requests'),
  wsMessages: count('ws-messages'),
  agentFrames: count('agent-frames'),
  seed: values.seed === undefined ? Date.now() % 2 ** 31 : count('seed'),
  concurrency: Math.max(1, count('concurrency')),
  maxRssMiB: count('max-rss-mib'),
};
const anchorCount = 2;
const victimCount = 3;
/** Beyond this many VMs besides the anchors, the oldest are deleted between batches (each is an agent process). */
const maxPoolVms = 8;
const lowLimits = { mutationsPerMinute: 30, readsPerMinute: 120 };

const verdict = new Verdict();
const tokens: Tokens = { operator: `fuzz-operator-${randomBytes(12).toString('hex')}`, viewer: `fuzz-viewer-${randomBytes(12).toString('hex')}` };
const stateDir = scratchStateDir('uckpt-fuzz-');
const logFile = `${stateDir}.serve.log`;
const port = await freePort();
const highLimitArgs = ['--rate-limit-mutations-per-minute', '10000000', '--rate-limit-reads-per-minute', '10000000'];
const serveArgs = ['--allow-fault-injection', '--calibration-ms', '300', '--max-vms', '14'];
const started = Date.now();

progress(`fuzz: seed ${settings.seed}; ${settings.requests} HTTP requests, ${settings.wsMessages} WebSocket frames, ${settings.agentFrames} agent frames`);
progress(`state directory ${stateDir}, server log ${logFile}`);
let server = await ServerProcess.start({ stateDir, port, tokens, args: [...serveArgs, ...highLimitArgs], logFile });
const memory = new MemoryWatch(stateDir, () => (server.alive ? server.pid : null));
memory.start();
const ledger = new AuditLedger();
const api = new Api(server.url, tokens, ledger);
const auditStart = await lastAuditId(api);
const knownIds = new Set<string>();
const phaseTimes: Record<string, number> = {};
let http: HttpFuzzFigures = newHttpFigures();
let ws: WsFigures | null = null;
let frames: AgentFrameFigures | null = null;
let audit: AuditComparison | null = null;
let rateLimit: Record<string, unknown> | null = null;
let exempt: Record<string, number> = {};

try {
  // VMs: anchors are never named by the HTTP fuzz (the agent frames and the WebSocket use them); victims are.
  const anchors: VmView[] = [];
  for (let i = 1; i <= anchorCount; i++) anchors.push(await createSimVm(api, `anchor-${i}`));
  for (let i = 1; i <= victimCount; i++) await createSimVm(api, `victim-${i}`);
  await waitRunning(api, null);
  const anchorIds = anchors.map((vm) => vm.id);
  const anchorAgents = new Map(agentProcesses(stateDir).filter((agent) => anchorIds.includes(agent.vmId)).map((agent) => [agent.vmId, agent]));
  let pool: string[] = [];
  const refreshPool = async () => {
    const vms = await listVms(api);
    for (const vm of vms) knownIds.add(vm.id);
    const others = vms.filter((vm) => !anchorIds.includes(vm.id));
    for (const extra of others.slice(0, Math.max(0, others.length - maxPoolVms))) await api.call('DELETE', `/api/vms/${extra.id}`);
    pool = others.slice(-maxPoolVms).map((vm) => vm.id);
    for (let i = pool.length; i < victimCount; i++) {
      const answer = await api.call<VmView>('POST', '/api/vms', { name: `victim-r${Date.now() % 100000}-${i}`, workload: 'sim', backend: 'sim', settings: { intervalMs: 50 } });
      if (answer.status === 201) pool.push(answer.body.id);
    }
  };
  await refreshPool();

  // 1. HTTP, from the server's own OpenAPI document.
  memory.phase('http');
  let t = Date.now();
  const doc = await api.ok<OpenApiDoc>('GET', '/api/openapi.json', undefined, 'none');
  const operations = operationsOf(doc);
  progress(`http: ${operations.length} operations in /api/openapi.json; generating ${settings.requests} requests`);
  const plans = fc.sample(requestPlans(doc, operations), { seed: settings.seed, numRuns: settings.requests });
  http = newHttpFigures();
  await runHttpFuzz(plans, {
    port,
    tokens,
    ledger,
    verdict,
    pool: () => pool,
    knownIds: () => knownIds,
    concurrency: settings.concurrency,
    batchSize: 500,
    betweenBatches: async (sent) => {
      if (!server.alive) throw new Error(`the server died during the HTTP fuzz (${server.exit?.signal ?? server.exit?.code}):\n${server.logTail()}`);
      await refreshPool();
      if (sent % 1000 === 0 || sent === plans.length) {
        progress(`http: ${sent}/${plans.length} sent; ${http.byStatus.get('no answer')} unanswered; server ${mib(server.rssBytes())}; ${verdict.violations.length} violations so far`);
      }
    },
  }, http);
  phaseTimes.http = Date.now() - t;
  await checkProcesses('after the HTTP fuzz');

  // 2. The telemetry WebSocket.
  memory.phase('websocket');
  t = Date.now();
  const pumpVm = pool[0];
  ws = await runWsAbuse({
    port,
    tokens,
    verdict,
    ledger,
    seed: settings.seed,
    messages: settings.wsMessages,
    vmIds: anchorIds,
    serverRss: () => server.rssBytes(),
    pump: async (on) => {
      if (!pumpVm) return;
      await api.call('PATCH', `/api/vms/${pumpVm}/config`, { intervalMs: on ? 1 : 50, enabled: true });
    },
    progress,
  });
  phaseTimes.websocket = Date.now() - t;
  progress(`ws: ${ws.messages.total} frames, ${ws.connections} connections; server ${mib(server.rssBytes())}`);
  await checkProcesses('after the WebSocket abuse');

  // 3. A live agent's socket.
  memory.phase('agent-frames');
  t = Date.now();
  const target = anchors[0]!;
  const before = anchorAgents.get(target.id);
  frames = await runAgentFrames({
    socketPath: path.join(stateDir, 'agents', `${target.id}.sock`),
    vmId: target.id,
    frames: settings.agentFrames,
    seed: settings.seed,
    verdict,
    progress,
  });
  phaseTimes.agentFrames = Date.now() - t;
  verdict.check(before !== undefined && stillRunning(before.pid, before.startTime), `the agent of ${target.id} (pid ${before?.pid}) did not survive the agent frames`);
  const after = await api.ok<VmView>('GET', `/api/vms/${target.id}`, undefined, 'viewer');
  verdict.check(after.state === 'running', `after the agent frames VM ${target.id} is ${after.state}${after.reason ? `: ${after.reason}` : ''}, not running`);
  const checkpoints = await api.call('GET', `/api/vms/${target.id}/checkpoints`, undefined, 'viewer');
  verdict.check(checkpoints.status === 200, `after the agent frames the server cannot list ${target.id}'s checkpoints (${checkpoints.status})`);
  const agentLog = readFileSync(path.join(stateDir, 'agents', `${target.id}.log`), 'utf8');
  const unhandled = agentLog.split('\n').filter((line) => /unhandled rejection|uncaught exception/.test(line));
  verdict.check(unhandled.length === 0, `the agent logged ${unhandled.length} unhandled errors, first: ${unhandled[0]?.slice(0, 300)}`);
  await checkProcesses('after the agent frames');

  // 4. Every mutation attempt so far is in the audit log.
  await sleep(500);
  const rows = await auditRowsAfter(api, stateDir, auditStart);
  audit = compareAudit(ledger, rows);
  exempt = ledger.exempt.toJSON();
  verdict.check(
    Object.keys(audit.differences).length === 0,
    `the audit log does not match the mutation attempts: ${audit.expectedRows} expected, ${audit.auditedRows} found; expected minus found by token | result: ${JSON.stringify(audit.differences)}`,
  );
  progress(`audit: ${audit.expectedRows} mutation attempts, ${audit.auditedRows} rows (${audit.systemRows} rows by the service itself aside)`);

  // 5. Rate limits: restart at low limits (SIGHUP leaves the VMs running; the new server re-attaches).
  memory.phase('rate-limits');
  t = Date.now();
  const agentsBefore = agentProcesses(stateDir);
  await server.stop('SIGHUP');
  server = await ServerProcess.start({
    stateDir, port, tokens, logFile,
    args: [...serveArgs, '--rate-limit-mutations-per-minute', String(lowLimits.mutationsPerMinute), '--rate-limit-reads-per-minute', String(lowLimits.readsPerMinute)],
  });
  for (const agent of agentsBefore) {
    verdict.check(stillRunning(agent.pid, agent.startTime), `agent ${agent.pid} of ${agent.vmId} did not survive a server restart (SIGHUP)`);
  }
  rateLimit = await rateLimitPhase(anchorIds[1]!);
  phaseTimes.rateLimits = Date.now() - t;
  await checkProcesses('after the rate-limit phase');
} catch (error) {
  verdict.fail(`the run stopped: ${(error as Error).stack ?? error}`);
}

memory.stop();
// Stop the service and its VMs; nothing of theirs may stay behind.
const serverAliveAtEnd = server.alive;
verdict.check(serverAliveAtEnd, `the server is not alive at the end (${server.exit?.signal ?? server.exit?.code}):\n${server.logTail()}`);
await server.stop('SIGTERM');
const leftover = agentProcesses(stateDir);
verdict.check(leftover.length === 0, `${leftover.length} agent processes still run after the server stopped: ${leftover.map((a) => a.pid).join(', ')}`);
for (const agent of leftover) process.kill(agent.pid, 'SIGKILL');
const errorLog = errorLogEntries();
verdict.check(errorLog.other.length === 0, `the server logged ${errorLog.other.length} errors that were no 5xx answer (a client's input is not a server error), first: ${errorLog.other[0]?.slice(0, 300)}`);
verdict.check(memory.figures.serverMaxBytes <= settings.maxRssMiB * 1024 * 1024, `the server's memory reached ${mib(memory.figures.serverMaxBytes)}, above the bound of ${settings.maxRssMiB} MiB`);

const elapsedS = (Date.now() - started) / 1000;
printTables();
const resultsFile = writeResults('fuzz', {
  passed: verdict.passed,
  violations: verdict.violations,
  settings,
  elapsedSeconds: elapsedS,
  phaseMs: phaseTimes,
  http: { sent: http.sent, mutations: http.mutations, byStatus: http.byStatus, byClass: http.byClass, byOrigin: http.byOrigin, maxLatencyMs: http.maxLatencyMs, designed5xx: http.designed5xx },
  websocket: ws,
  agentFrames: frames,
  audit: audit ? { ...audit, exempt } : null,
  rateLimit,
  memory: memory.figures,
  serverLogErrors: errorLog,
  stateDir: verdict.passed && !values.keep ? null : stateDir,
});
process.stdout.write(verdict.summary('fuzz'));
process.stdout.write(`\nresults: ${resultsFile}; ${elapsedS.toFixed(1)} s\n`);
if (verdict.passed && !values.keep) {
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(logFile, { force: true });
} else {
  process.stdout.write(`state directory kept: ${stateDir} (server output: ${logFile})\n`);
}
process.exit(verdict.passed ? 0 : 1);

/** Error-level entries of the server's log: those that record a 5xx answer, and any other. */
function errorLogEntries(): { for5xx: number; other: string[] } {
  let for5xx = 0;
  const other: string[] = [];
  let text = '';
  try {
    text = readFileSync(path.join(stateDir, 'server.log'), 'utf8');
  } catch {
    return { for5xx, other };
  }
  for (const line of text.split('\n')) {
    if (!line) continue;
    const entry = JSON.parse(line) as { level: number; msg?: string; status?: number; err?: { message?: string } };
    if (entry.level < 50) continue;
    if (entry.msg === 'request failed' && (entry.status ?? 0) >= 500) for5xx++;
    else other.push(`${entry.msg ?? ''} ${entry.err?.message ?? ''}`);
  }
  return { for5xx, other };
}

async function checkProcesses(when: string): Promise<void> {
  verdict.check(server.alive, `the server died ${when}:\n${server.logTail()}`);
  if (!server.alive) throw new Error(`the server died ${when}`);
  // As the operator: after the rate-limit phase the viewer's reads are spent.
  const vms = await listVms(api, 'operator');
  for (const vm of vms) knownIds.add(vm.id);
  for (const vm of vms.filter((v) => v.state === 'failed')) verdict.fail(`VM ${vm.id} (${vm.name}) failed ${when}: ${vm.reason}`);
  const { problems } = auditAgents(stateDir, vms);
  for (const problem of problems) verdict.fail(`${when}: ${problem}`);
  const running = vms.filter((vm) => !terminalStates.has(vm.state)).length;
  progress(`${when}: server alive, ${vms.length} VMs (${running} live), ${agentProcesses(stateDir).length} agent processes, ${problems.length} problems`);
}

/**
 * At the low limits: the operator's mutations past the limit are refused
 * with 429; requests without a token count against the address, refused
 * ones (401) included; reads have their own limit; a burst of 429s is
 * audited once per caller and minute.
 */
async function rateLimitPhase(vmId: string): Promise<Record<string, unknown>> {
  const rlLedger = new AuditLedger();
  const rlApi = new Api(server.url, tokens, rlLedger);
  // The audit is read with the operator's token: the viewer's reads are what this phase exhausts.
  const phaseStart = await lastAuditId(rlApi, 'operator');
  const firstMinute = Math.floor(Date.now() / 60_000);
  const burst = async (n: number, call: () => Promise<{ status: number; body: unknown }>) => {
    const statuses = new Tally();
    let wrongBody = 0;
    for (let i = 0; i < n; i++) {
      const answer = await call();
      statuses.add(String(answer.status));
      if (answer.status === 429 && resultCode(`error: ${(answer.body as { error?: { code?: string } })?.error?.code}`) !== 'rate-limited') wrongBody++;
    }
    return { statuses, wrongBody };
  };
  const extra = 15;
  const operator = await burst(lowLimits.mutationsPerMinute + extra, () => rlApi.call('PATCH', `/api/vms/${vmId}/config`, { errorRatePerHour: 0.01 }));
  const anonymous = await burst(lowLimits.mutationsPerMinute + extra, () => rlApi.call('POST', '/api/vms', { name: 'x', workload: 'sim', backend: 'sim' }, 'none'));
  const reads = await burst(lowLimits.readsPerMinute + extra, () => rlApi.call('GET', '/api/vms', undefined, 'viewer'));
  const minutes = Math.floor(Date.now() / 60_000) - firstMinute + 1;
  const rows = await auditRowsAfter(new Api(server.url, tokens), stateDir, phaseStart, 'operator');
  const rateLimitedRows = new Tally();
  for (const row of rows) if (resultCode(row.result) === 'rate-limited') rateLimitedRows.add(row.tokenLabel);
  const viewerReadRows = rows.filter((row) => row.tokenLabel === 'viewer:env').length;

  const within = (statuses: Tally, okStatus: string, limit: number, what: string) => {
    verdict.check(statuses.get(okStatus) === limit && statuses.get('429') === extra, `${what}: expected ${limit} x ${okStatus} then ${extra} x 429, got ${JSON.stringify(statuses.toJSON())}`);
  };
  if (minutes === 1) {
    within(operator.statuses, '200', lowLimits.mutationsPerMinute, `operator mutations at ${lowLimits.mutationsPerMinute}/min`);
    within(anonymous.statuses, '401', lowLimits.mutationsPerMinute, `mutations without a token at ${lowLimits.mutationsPerMinute}/min per address`);
    within(reads.statuses, '200', lowLimits.readsPerMinute, `viewer reads at ${lowLimits.readsPerMinute}/min`);
  } else {
    // The burst straddled a rate-limit window: only the bounds can be checked.
    verdict.check(operator.statuses.get('429') > 0 && reads.statuses.get('429') > 0 && anonymous.statuses.get('429') > 0, 'no 429 in a burst past the limits');
  }
  verdict.check(operator.wrongBody + anonymous.wrongBody + reads.wrongBody === 0, 'a 429 answer without the rate-limited error code');
  for (const label of ['operator:env', 'no token']) {
    const n = rateLimitedRows.get(label);
    verdict.check(n >= 1 && n <= minutes, `429s of ${label} audited ${n} times in ${minutes} minute(s) (once a minute expected)`);
  }
  verdict.check(viewerReadRows === 0, `${viewerReadRows} audit rows for the viewer's reads (reads are not audited)`);
  const okRows = rows.filter((row) => row.tokenLabel === 'operator:env' && row.result === 'ok').length;
  verdict.check(okRows === operator.statuses.get('200'), `${operator.statuses.get('200')} operator mutations succeeded, ${okRows} audited as ok`);
  const unauthorizedRows = rows.filter((row) => row.tokenLabel === 'no token' && resultCode(row.result) === 'unauthorized').length;
  verdict.check(unauthorizedRows === anonymous.statuses.get('401'), `${anonymous.statuses.get('401')} refused mutations without a token, ${unauthorizedRows} audited`);
  progress(`rate limits: operator ${JSON.stringify(operator.statuses.toJSON())}, no token ${JSON.stringify(anonymous.statuses.toJSON())}, viewer reads ${JSON.stringify(reads.statuses.toJSON())}; 429s audited ${JSON.stringify(rateLimitedRows.toJSON())}`);
  return {
    limits: lowLimits,
    minutesSpanned: minutes,
    operatorMutations: operator.statuses.toJSON(),
    mutationsWithoutToken: anonymous.statuses.toJSON(),
    viewerReads: reads.statuses.toJSON(),
    rateLimitedAuditRows: rateLimitedRows.toJSON(),
  };
}

function printTables(): void {
  const lines: string[] = [];
  lines.push(table(`HTTP fuzz: ${http.sent.toLocaleString('en-US')} requests by answer (status and error code)`, ['answer', 'requests'], http.byStatus.sorted()));
  const classes = Object.keys(http.byClass).sort();
  const groups = ['2xx', '3xx', '4xx', '5xx', 'no answer'];
  lines.push(table('HTTP fuzz: requests by class and answer', ['class', ...groups, 'total'], classes.map((name) => {
    const tally = http.byClass[name]!;
    return [name, ...groups.map((group) => tally.get(group)), tally.total];
  })));
  lines.push(figures('HTTP fuzz: where the answers came from', http.byOrigin.sorted()));
  if (ws) {
    lines.push(table('WebSocket: frames sent by kind', ['kind', 'frames'], ws.messages.sorted()));
    lines.push(figures('WebSocket: figures', [
      ['handshakes, by answer', JSON.stringify(ws.handshakes.toJSON())],
      ['closes by the server, by code', JSON.stringify(ws.closeCodes.toJSON())],
      ['junk messages on reading clients / error answers', `${ws.junkOnReadingClients} / ${ws.errorReplies}`],
      ['subscription ids sent in floods', ws.subscriptionIdsSent],
      ['clients that never read', ws.stalledClients],
      ['connections', ws.connections],
      ['server RSS before / after the floods', `${mib(ws.serverRssBeforeFloodBytes)} / ${mib(ws.serverRssAfterFloodBytes)}`],
      ['well-behaved client heard its VM afterwards', ws.healthyClientGotEpoch ? 'yes' : 'NO'],
    ]));
  }
  if (frames) {
    lines.push(table('Agent frames: sent by kind', ['kind', 'frames'], frames.byKind.sorted()));
    lines.push(table('Agent frames: outcomes', ['outcome', 'frames'], frames.outcomes.sorted()));
    lines.push(figures('Agent frames: figures', [
      ['error answers by code', JSON.stringify(frames.errorCodes.toJSON())],
      ['connections', frames.connections],
      ['bytes sent', `${(frames.bytesSent / (1 << 20)).toFixed(1)} MiB`],
    ]));
  }
  lines.push(figures('Audit log and rate limits', [
    ['mutation attempts that reached the application', audit?.expectedRows ?? '-'],
    ['audit rows for them', audit?.auditedRows ?? '-'],
    ['rows the service wrote itself (recovery, auto-tune)', audit?.systemRows ?? '-'],
    ...Object.entries(exempt).map(([why, n]): [string, number] => [`not audited by design: ${why}`, n]),
    ['rate limits: operator mutations', JSON.stringify(rateLimit?.operatorMutations ?? '-')],
    ['rate limits: mutations without a token', JSON.stringify(rateLimit?.mutationsWithoutToken ?? '-')],
    ['rate limits: viewer reads', JSON.stringify(rateLimit?.viewerReads ?? '-')],
    ['rate limits: 429s audited', JSON.stringify(rateLimit?.rateLimitedAuditRows ?? '-')],
  ]));
  lines.push(figures('Processes and memory', [
    ['server max RSS', mib(memory.figures.serverMaxBytes)],
    ['server max RSS by phase', Object.entries(memory.figures.serverMaxByPhase).map(([phase, bytes]) => `${phase} ${mib(bytes)}`).join(', ')],
    ['server RSS first / last sample', `${mib(memory.figures.serverFirstBytes)} / ${mib(memory.figures.serverLastBytes)}`],
    ['bound asserted', `${settings.maxRssMiB} MiB`],
    ['agent max RSS', mib(memory.figures.agentMaxBytes)],
    ['server alive at the end', serverAliveAtEnd ? 'yes' : 'NO'],
    ['server log: error entries for 5xx answers / others', `${errorLog.for5xx} / ${errorLog.other.length}`],
    ['slowest HTTP answer', `${http.maxLatencyMs.toFixed(0)} ms`],
    ['phase times', Object.entries(phaseTimes).map(([phase, ms]) => `${phase} ${(ms / 1000).toFixed(1)} s`).join(', ')],
  ]));
  process.stdout.write(`${lines.join('\n')}\n`);
}
