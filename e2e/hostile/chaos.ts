// `pnpm chaos`: kill -9 of the service in the middle of its work, again and
// again, and of single agents. A live `uckpt serve` (fresh state directory,
// tokens from the environment) runs four simulated VMs; each cycle four
// loops create, reconfigure, checkpoint, roll back and delete them through
// the API while, at a random moment, the server is killed with SIGKILL.
// It is restarted on the same state directory and must come back with:
// every VM whose creation was acknowledged (and none whose deletion was),
// each with its last acknowledged settings, exactly one agent per VM and
// the same agent as before (its memory, hence its checkpoints, intact), no
// orphan agent process, and no acknowledged checkpoint lost. The one
// operation of each VM in flight at the kill may have happened or not.
// Then single agents are killed: their VM must turn failed with the reason,
// stay failed across a server restart, and deleting it must leave nothing
// behind (no socket, lock, log or process). Prints the figures, writes
// e2e/hostile/results/chaos.json, exits 1 on any violated assertion.
//
//   pnpm chaos [-- --cycles 50 --vms 4 --agent-kills 4 --seed S --keep]
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Api, type ApiAnswer } from './api-client.ts';
import { checkpointsRequired, lostCheckpoints, random, settingsAllowed, settingsMatch, settingsPatch, type ModelVm, type Operation, type SeenVm, type Settings } from './chaos-model.ts';
import { MemoryWatch, mib } from './memory-watch.ts';
import { figures, progress, table, Tally, Verdict, writeResults } from './report.ts';
import { freePort } from '../lib/server.ts';
import { agentProcesses, scratchStateDir, ServerProcess, sleep, stillRunning, type Tokens } from './server-process.ts';
import { agentFiles, auditAgents, listVms, type VmView } from './vms.ts';

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '50' },
    vms: { type: 'string', default: '4' },
    'agent-kills': { type: 'string', default: '4' },
    seed: { type: 'string' },
    'kill-min-ms': { type: 'string', default: '500' },
    'kill-max-ms': { type: 'string', default: '2500' },
    keep: { type: 'boolean', default: false },
  },
});
const int = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
};
const settings = {
  cycles: int('cycles'),
  vms: Math.max(1, int('vms')),
  agentKills: int('agent-kills'),
  seed: values.seed === undefined ? Date.now() % 2 ** 31 : int('seed'),
  killMinMs: int('kill-min-ms'),
  killMaxMs: Math.max(int('kill-min-ms'), int('kill-max-ms')),
};
/** Checkpoints every few seconds and room for all of them: a checkpoint leaves only by an acknowledged rollback or change of mode. */
const initialSettings: Settings = { intervalMs: 2000, retention: 1024 };
const retentionFloor = 900;

const verdict = new Verdict();
const rand = random(settings.seed);
const tokens: Tokens = { operator: `chaos-operator-${randomBytes(12).toString('hex')}`, viewer: `chaos-viewer-${randomBytes(12).toString('hex')}` };
const stateDir = scratchStateDir('uckpt-chaos-');
const logFile = `${stateDir}.serve.log`;
const port = await freePort();
const serveArgs = ['--calibration-ms', '100', '--max-vms', String(settings.vms * 4), '--rate-limit-mutations-per-minute', '10000000', '--rate-limit-reads-per-minute', '10000000'];
const started = Date.now();

const ops = { acknowledged: new Tally(), refused: new Tally(), inflightAtKill: new Tally(), inflightOutcome: new Tally() };
const restartMs: number[] = [];
const settleMs: number[] = [];
const checks = { vmsChecked: 0, settingsVerified: 0, checkpointsVerified: 0, sameAgent: 0, agentsAliveThroughKill: 0, deletedVerified: 0 };
const agentKillRows: (string | number)[][] = [];
const slots: (ModelVm | null)[] = Array.from({ length: settings.vms }, () => null);
/** Deleted VMs not yet checked for leftovers; and every VM ever deleted, which must never come back. */
const deletedIds: string[] = [];
const everDeleted = new Set<string>();
let names = 0;
let cycle = 0;

progress(`chaos: seed ${settings.seed}; ${settings.cycles} cycles of kill -9 over ${settings.vms} VMs, then ${settings.agentKills} agent kills`);
progress(`state directory ${stateDir}, server log ${logFile}`);
let server = await ServerProcess.start({ stateDir, port, tokens, args: serveArgs, logFile });
const api = new Api(server.url, tokens);
const memory = new MemoryWatch(stateDir, () => (server.alive ? server.pid : null));
memory.start(250);

try {
  for (cycle = 1; cycle <= settings.cycles; cycle++) await chaosCycle();
  await agentKills();
} catch (error) {
  verdict.fail(`the run stopped in cycle ${cycle}: ${(error as Error).stack ?? error}`);
}

memory.stop();
verdict.check(server.alive, `the server is not alive at the end:\n${server.logTail()}`);
await server.stop('SIGTERM');
await sleep(200);
const leftover = agentProcesses(stateDir);
verdict.check(leftover.length === 0, `${leftover.length} agent processes still run after the server stopped its VMs: ${leftover.map((agent) => `${agent.pid} (${agent.vmId})`).join(', ')}`);
for (const agent of leftover) process.kill(agent.pid, 'SIGKILL');

const elapsedS = (Date.now() - started) / 1000;
printTables();
const resultsFile = writeResults('chaos', {
  passed: verdict.passed,
  violations: verdict.violations,
  settings,
  elapsedSeconds: elapsedS,
  operations: ops,
  restartMs,
  settleMs,
  checks,
  agentKills: agentKillRows,
  memory: memory.figures,
  stateDir: verdict.passed && !values.keep ? null : stateDir,
});
process.stdout.write(verdict.summary('chaos'));
process.stdout.write(`\nresults: ${resultsFile}; ${elapsedS.toFixed(1)} s\n`);
if (verdict.passed && !values.keep) {
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(logFile, { force: true });
} else {
  process.stdout.write(`state directory kept: ${stateDir} (server output: ${logFile})\n`);
}
process.exit(verdict.passed ? 0 : 1);

/** One cycle: the loops run, the server is killed at a random moment, restarted, and checked. */
async function chaosCycle(): Promise<void> {
  const run = { stop: false };
  const loops = slots.map((_, slot) => slotLoop(slot, run));
  const killAfterMs = settings.killMinMs + Math.floor(rand() * (settings.killMaxMs - settings.killMinMs + 1));
  await sleep(killAfterMs);
  const agentsAtKill = agentProcesses(stateDir);
  await server.stop('SIGKILL');
  run.stop = true;
  await Promise.all(loops);
  for (const vm of slots) if (vm?.inflight) ops.inflightAtKill.add(vm.inflight.op);

  // The agents do not depend on the server: every one of them outlives it, except one told to stop by a delete in flight.
  for (const agent of agentsAtKill) {
    const deleting = slots.some((vm) => vm?.id === agent.vmId && vm.inflight?.op === 'delete');
    if (stillRunning(agent.pid, agent.startTime)) checks.agentsAliveThroughKill++;
    else if (!deleting) verdict.fail(`cycle ${cycle}: agent ${agent.pid} of ${agent.vmId} died with the server`);
  }

  const restartAt = Date.now();
  server = await ServerProcess.start({ stateDir, port, tokens, args: serveArgs, logFile });
  restartMs.push(Date.now() - restartAt);
  const settleAt = Date.now();
  const seen = await settle();
  settleMs.push(Date.now() - settleAt);
  await checkAfterRestart(seen);
  const acked = ops.acknowledged.total;
  if (cycle % 5 === 0 || cycle === settings.cycles) {
    progress(`cycle ${cycle}/${settings.cycles}: killed after ${killAfterMs} ms, restarted in ${restartMs.at(-1)} ms; ${acked} operations acknowledged so far; server ${mib(server.rssBytes())}; ${verdict.violations.length} violations`);
  }
}

/** One VM slot's loop: one operation at a time, until the server is gone. */
async function slotLoop(slot: number, run: { stop: boolean }): Promise<void> {
  while (!run.stop) {
    let vm = slots[slot] ?? null;
    if (!vm || vm.deleted) {
      vm = { slot, name: `chaos-${cycle}-${slot}-${++names}`, id: null, settings: null, checkpoints: new Set(), agent: null, inflight: null, deleted: false };
      slots[slot] = vm;
    }
    const op = vm.id === null ? ({ op: 'create', settings: initialSettings } as const) : chooseOperation(vm);
    vm.inflight = op;
    let answer: ApiAnswer<Record<string, unknown>>;
    try {
      answer = await send(vm, op);
    } catch {
      return; // no answer: the server is gone, the operation stays in flight
    }
    vm.inflight = null;
    acknowledge(vm, op, answer);
  }
}

function chooseOperation(vm: ModelVm): Operation {
  // Deletions are rare: each costs a new VM (an agent process to start), and VMs should live through several kills.
  const roll = rand();
  if (roll < 0.38) return { op: 'config', patch: settingsPatch(rand) };
  if (roll < 0.7 || (roll < 0.98 && vm.checkpoints.size === 0)) return { op: 'checkpoint' };
  if (roll < 0.98) {
    const recent = [...vm.checkpoints].sort((a, b) => a - b).slice(-5);
    return { op: 'rollback', to: rand() < 0.25 ? 'latest' : recent[Math.floor(rand() * recent.length)]! };
  }
  return { op: 'delete' };
}

function send(vm: ModelVm, op: Operation): Promise<ApiAnswer<Record<string, unknown>>> {
  switch (op.op) {
    case 'create':
      return api.call('POST', '/api/vms', { name: vm.name, workload: 'sim', backend: 'sim', settings: op.settings });
    case 'config':
      return api.call('PATCH', `/api/vms/${vm.id}/config`, op.patch);
    case 'checkpoint':
      return api.call('POST', `/api/vms/${vm.id}/checkpoints`);
    case 'rollback':
      return api.call('POST', `/api/vms/${vm.id}/rollback`, { to: op.to });
    case 'delete':
      return api.call('DELETE', `/api/vms/${vm.id}`);
  }
}

function acknowledge(vm: ModelVm, op: Operation, answer: ApiAnswer<Record<string, unknown>>): void {
  const body = answer.body ?? {};
  if (answer.status >= 300) {
    const code = (body as { error?: { code?: string; message?: string } }).error;
    ops.refused.add(`${op.op} ${answer.status} ${code?.code ?? ''}`.trim());
    if (answer.status >= 500) verdict.fail(`cycle ${cycle}: ${op.op} of ${vm.id ?? vm.name} answered ${answer.status}: ${code?.message}`);
    if (op.op === 'rollback' && typeof op.to === 'number' && /no retained checkpoint/.test(code?.message ?? '')) {
      verdict.fail(`cycle ${cycle}: checkpoint ${op.to} of ${vm.id}, acknowledged, is gone (${code?.message})`);
    }
    if (op.op === 'create') slots[vm.slot] = null;
    return;
  }
  ops.acknowledged.add(op.op);
  switch (op.op) {
    case 'create':
      vm.id = String(body.id);
      vm.settings = body.settings as Settings;
      break;
    case 'config':
      vm.settings = body.settings as Settings;
      if (op.patch.mode !== undefined) vm.checkpoints.clear(); // a change of mode starts a new chain (the sim backend drops the old one)
      break;
    case 'checkpoint':
      vm.checkpoints.add(Number(body.seq));
      break;
    case 'rollback': {
      const seq = Number(body.seq);
      for (const kept of [...vm.checkpoints]) if (kept > seq) vm.checkpoints.delete(kept);
      break;
    }
    case 'delete':
      vm.deleted = true;
      deletedIds.push(vm.id!);
      everDeleted.add(vm.id!);
      break;
  }
}

/**
 * Waits until no VM is still starting or calibrating (VMs created in flight
 * up) and the server is attached to every live VM's agent (on a busy host an
 * agent may miss the hello timeout; the server then waits for it and tries
 * again every 2 s, answering 409 meanwhile).
 */
async function settle(): Promise<VmView[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const vms = await listVms(api);
    const starting = vms.some((vm) => vm.state === 'starting' || vm.state === 'calibrating');
    let attached = !starting;
    for (const vm of starting ? [] : vms.filter((candidate) => candidate.state === 'running')) {
      if ((await api.call('GET', `/api/vms/${vm.id}/checkpoints`, undefined, 'viewer')).status !== 200) attached = false;
    }
    if (attached || Date.now() > deadline) return vms;
    await sleep(200);
  }
}

async function checkAfterRestart(listed: VmView[]): Promise<void> {
  const where = `cycle ${cycle}`;
  const deletedBefore = new Set(everDeleted);
  const byId = new Map(listed.map((vm) => [vm.id, vm]));
  const claimed = new Set<string>();
  const agents = agentProcesses(stateDir);
  for (const vm of slots) {
    if (!vm) continue;
    // A create in flight: the VM may exist (found by its name) or not.
    if (vm.id === null) {
      const found = listed.find((candidate) => candidate.name === vm.name);
      ops.inflightOutcome.add(`create: ${found ? 'happened' : 'did not happen'}`);
      if (!found) {
        slots[vm.slot] = null;
        continue;
      }
      vm.id = found.id;
      vm.settings = found.settings;
      verdict.check(found.settings.intervalMs === initialSettings.intervalMs && found.settings.retention === initialSettings.retention,
        `${where}: VM ${found.id}, created in flight, has settings ${JSON.stringify(found.settings)}, not those asked for`);
    }
    if (vm.deleted) continue;
    const found = byId.get(vm.id);
    const inflight = vm.inflight;
    claimed.add(vm.id);
    if (!found) {
      if (inflight?.op === 'delete') {
        ops.inflightOutcome.add('delete: happened');
        vm.deleted = true;
        deletedIds.push(vm.id);
        everDeleted.add(vm.id);
      } else {
        verdict.fail(`${where}: VM ${vm.id} (${vm.name}), acknowledged, is gone after the restart`);
        slots[vm.slot] = null;
      }
      continue;
    }
    checks.vmsChecked++;
    if (inflight?.op === 'delete') {
      // Its agent may have been told to stop before the kill: the VM is stopped, or re-created, or untouched.
      ops.inflightOutcome.add(`delete: VM ${found.state === 'stopped' ? 'stopped, not yet forgotten' : 'still there'}`);
      const answer = await api.call('DELETE', `/api/vms/${vm.id}`);
      verdict.check(answer.status === 204, `${where}: deleting ${vm.id} after an interrupted delete answered ${answer.status}`);
      vm.deleted = true;
      deletedIds.push(vm.id);
      everDeleted.add(vm.id);
      continue;
    }
    verdict.check(found.state === 'running', `${where}: VM ${vm.id} is ${found.state}${found.reason ? ` (${found.reason})` : ''} after the restart, not running`);
    if (settingsMatch(found.settings, settingsAllowed(vm))) checks.settingsVerified++;
    else verdict.fail(`${where}: VM ${vm.id} has settings ${JSON.stringify(found.settings)}; acknowledged: ${JSON.stringify(vm.settings)}${inflight?.op === 'config' ? `, or with ${JSON.stringify(inflight.patch)} (in flight)` : ''}`);
    if (inflight?.op === 'config' && vm.settings) {
      ops.inflightOutcome.add(`config: ${settingsMatch(found.settings, [vm.settings]) ? 'not applied (or a no-op)' : 'applied'}`);
    }
    const retained = ((await api.ok<{ checkpoints: { seq: number }[] }>('GET', `/api/vms/${vm.id}/checkpoints`, undefined, 'viewer')).checkpoints).map((c) => c.seq);
    const required = checkpointsRequired(vm);
    const lost = lostCheckpoints(required, retained, Number(found.settings.retention ?? retentionFloor));
    checks.checkpointsVerified += required.size - lost.length;
    verdict.check(lost.length === 0, `${where}: VM ${vm.id} lost acknowledged checkpoints ${lost.join(', ')} (retained: ${retained.length ? `${retained[0]}..${retained.at(-1)}, ${retained.length}` : 'none'})`);
    // The same agent process as before the kill: the VM was re-attached, not re-created from its definition.
    const own = agents.filter((agent) => agent.vmId === vm.id);
    if (vm.agent && own.length === 1) {
      const same = own[0]!.pid === vm.agent.pid && own[0]!.startTime === vm.agent.startTime;
      if (same) checks.sameAgent++;
      else verdict.fail(`${where}: VM ${vm.id} has a new agent (pid ${vm.agent.pid} -> ${own[0]!.pid}): it was re-created, its memory and checkpoints lost`);
    }
    // What the server says now is what later checks build on.
    vm.inflight = null;
    vm.settings = found.settings;
    vm.checkpoints = new Set(retained);
    vm.agent = own.length === 1 ? { pid: own[0]!.pid, startTime: own[0]!.startTime } : null;
  }
  for (const vm of slots) if (vm) vm.inflight = null;
  for (const vm of listed) {
    if (!claimed.has(vm.id) && !deletedBefore.has(vm.id)) verdict.fail(`${where}: VM ${vm.id} (${vm.name}, ${vm.state}) is listed but was never created`);
    if (deletedBefore.has(vm.id)) verdict.fail(`${where}: VM ${vm.id} (${vm.name}), whose deletion was acknowledged, is back (${vm.state})`);
  }
  // Exactly one agent per VM, no orphan; nothing left of deleted VMs.
  const now = await listVms(api);
  for (const problem of auditAgents(stateDir, now).problems) verdict.fail(`${where}: ${problem}`);
  for (const id of deletedIds.splice(0)) {
    const files = agentFiles(stateDir, id);
    verdict.check(files.length === 0, `${where}: deleted VM ${id} left ${files.join(', ')}`);
    checks.deletedVerified++;
  }
  for (let slot = 0; slot < slots.length; slot++) if (slots[slot]?.deleted) slots[slot] = null;
}

/** kill -9 of single agents: the VM turns failed with the reason, stays failed, and its deletion leaves nothing. */
async function agentKills(): Promise<void> {
  for (let k = 0; k < settings.agentKills; k++) {
    // Fill the slots up again (the chaos may have left some empty).
    for (let slot = 0; slot < slots.length; slot++) {
      if (slots[slot]) continue;
      const name = `kill-${k}-${slot}`;
      const created = await api.ok<{ id: string; settings: Settings }>('POST', '/api/vms', { name, workload: 'sim', backend: 'sim', settings: initialSettings });
      slots[slot] = { slot, name, id: created.id, settings: created.settings, checkpoints: new Set(), agent: null, inflight: null, deleted: false };
    }
    await settle();
    const target = slots[k % slots.length]!;
    const others = agentProcesses(stateDir).filter((agent) => agent.vmId !== target.id);
    const agent = agentProcesses(stateDir).find((candidate) => candidate.vmId === target.id);
    if (!agent) {
      verdict.fail(`agent kill ${k + 1}: VM ${target.id} has no agent process to kill`);
      continue;
    }
    process.kill(agent.pid, 'SIGKILL');
    const failed = await waitForState(target.id!, 'failed', 10_000);
    verdict.check(failed?.state === 'failed', `agent kill ${k + 1}: VM ${target.id} is ${failed?.state ?? 'unknown'} 10 s after its agent was killed, not failed`);
    const reasonOk = /agent process \(pid \d+\) died|connection to the agent.*lost/.test(failed?.reason ?? '');
    verdict.check(reasonOk, `agent kill ${k + 1}: VM ${target.id} failed without the reason (reason: ${failed?.reason})`);
    for (const other of others) verdict.check(stillRunning(other.pid, other.startTime), `agent kill ${k + 1}: agent ${other.pid} of ${other.vmId} died too`);
    await sleep(500);
    verdict.check(!agentProcesses(stateDir).some((candidate) => candidate.vmId === target.id), `agent kill ${k + 1}: a new agent was started for the failed VM ${target.id}`);
    // Every other time, the server is killed too before the deletion: the VM must stay failed, not come back.
    const restarted = k % 2 === 1;
    if (restarted) {
      await server.stop('SIGKILL');
      server = await ServerProcess.start({ stateDir, port, tokens, args: serveArgs, logFile });
      await settle();
      const after = await api.ok<VmView>('GET', `/api/vms/${target.id}`, undefined, 'viewer');
      verdict.check(after.state === 'failed', `agent kill ${k + 1}: after a server restart the failed VM ${target.id} is ${after.state}`);
      verdict.check(!agentProcesses(stateDir).some((candidate) => candidate.vmId === target.id), `agent kill ${k + 1}: the restarted server started an agent for the failed VM ${target.id}`);
    }
    const deleted = await api.call('DELETE', `/api/vms/${target.id}`);
    verdict.check(deleted.status === 204, `agent kill ${k + 1}: deleting the failed VM ${target.id} answered ${deleted.status}`);
    const gone = await api.call('GET', `/api/vms/${target.id}`, undefined, 'viewer');
    const files = agentFiles(stateDir, target.id!);
    const processes = agentProcesses(stateDir).filter((candidate) => candidate.vmId === target.id);
    verdict.check(gone.status === 404, `agent kill ${k + 1}: the deleted VM ${target.id} still answers ${gone.status}`);
    verdict.check(files.length === 0, `agent kill ${k + 1}: deleting ${target.id} left ${files.join(', ')}`);
    verdict.check(processes.length === 0, `agent kill ${k + 1}: deleting ${target.id} left agent processes ${processes.map((p) => p.pid).join(', ')}`);
    const listed = await listVms(api);
    for (const problem of auditAgents(stateDir, listed).problems) verdict.fail(`agent kill ${k + 1}: ${problem}`);
    agentKillRows.push([k + 1, target.id!, agent.pid, failed?.state ?? '?', (failed?.reason ?? '').slice(0, 60), restarted ? 'yes' : 'no', deleted.status, files.length, processes.length]);
    slots[target.slot] = null;
  }
}

async function waitForState(id: string, state: string, timeoutMs: number): Promise<SeenVm | null> {
  const deadline = Date.now() + timeoutMs;
  let last: SeenVm | null = null;
  while (Date.now() < deadline) {
    const answer = await api.call<SeenVm>('GET', `/api/vms/${id}`, undefined, 'viewer');
    if (answer.status === 200) last = answer.body;
    if (last?.state === state) return last;
    await sleep(100);
  }
  return last;
}

function printTables(): void {
  const lines: string[] = [];
  const opNames = ['create', 'config', 'checkpoint', 'rollback', 'delete'];
  const refusedBy = (op: string) => [...ops.refused.counts.entries()].filter(([key]) => key.startsWith(`${op} `)).reduce((sum, [, n]) => sum + n, 0);
  lines.push(table(`Chaos: operations over ${cycle - 1} cycles (each ended by kill -9 of the server)`, ['operation', 'acknowledged', 'refused', 'in flight at a kill'],
    opNames.map((op) => [op, ops.acknowledged.get(op), refusedBy(op), ops.inflightAtKill.get(op)])));
  lines.push(table('Chaos: refusals by answer', ['answer', 'count'], ops.refused.sorted()));
  lines.push(table('Chaos: what became of the operations in flight at a kill', ['outcome', 'count'], ops.inflightOutcome.sorted()));
  const sorted = [...restartMs].sort((a, b) => a - b);
  lines.push(figures('Chaos: after each restart', [
    ['server kills (SIGKILL) and restarts', restartMs.length],
    ['restart to healthy, median / max', sorted.length ? `${sorted[Math.floor(sorted.length / 2)]} ms / ${sorted.at(-1)} ms` : '-'],
    ['until no VM is starting, max', settleMs.length ? `${Math.max(...settleMs)} ms` : '-'],
    ['agents alive through a server kill', checks.agentsAliveThroughKill],
    ['VMs checked after a restart', checks.vmsChecked],
    ['  with their acknowledged settings', checks.settingsVerified],
    ['  re-attached to the same agent process', checks.sameAgent],
    ['acknowledged checkpoints found retained', checks.checkpointsVerified],
    ['deleted VMs checked for leftovers', checks.deletedVerified],
  ]));
  lines.push(table('Agent kills (kill -9 of one agent)', ['#', 'VM', 'agent pid', 'state', 'reason', 'server restarted', 'DELETE', 'files left', 'processes left'], agentKillRows));
  lines.push(figures('Processes and memory', [
    ['server max RSS', mib(memory.figures.serverMaxBytes)],
    ['agent max RSS', mib(memory.figures.agentMaxBytes)],
    ['agent processes left after SIGTERM', leftover.length],
  ]));
  process.stdout.write(`${lines.join('\n')}\n`);
}
