// Runs inside the KVM rig for the browser tests on a host without /dev/kvm:
// starts and signals `uckpt serve` processes there on the host's behalf, so
// that a server can be stopped with SIGHUP and started again while its VMs'
// agents run on in the rig, exactly as on a host with KVM.
//   node rig-launcher.mjs PORT        (UCKPT_E2E_LAUNCHER_TOKEN: the bearer token asked of every call)
// It listens on the rig's forwarded address only, for the host's loopback.
//   POST /start  {"args": [...], "env": {...}, "log": PATH, "stateDir": PATH}  -> {"pid": N}
//   POST /signal {"pid": N, "signal": "SIGTERM" | "SIGHUP" | "SIGKILL"}      -> {}
//   GET  /alive?pid=N                                                       -> {"alive": bool}
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cliPath = `${repoRoot}apps/cli/dist/main.js`;
const token = process.env.UCKPT_E2E_LAUNCHER_TOKEN;
const port = Number(process.argv[2]);
if (!token || !Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: UCKPT_E2E_LAUNCHER_TOKEN=... node rig-launcher.mjs PORT');
  process.exit(2);
}

const signals = new Set(['SIGTERM', 'SIGHUP', 'SIGKILL', 'SIGINT']);
/** Only what this launcher started may be signalled. */
const started = new Map();

function readJson(request) {
  return new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk) => {
      body += chunk;
      if (body.length > 64 * 1024) reject(new Error('body too large'));
    });
    request.on('end', () => {
      try {
        resolve(body ? JSON.parse(body) : {});
      } catch {
        reject(new Error('body is not JSON'));
      }
    });
  });
}

function startServe({ args, env, log, stateDir }) {
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string') || args[0] !== 'serve') throw new Error('args: uckpt serve arguments, as strings');
  if (typeof log !== 'string' || typeof stateDir !== 'string') throw new Error('log and stateDir: paths');
  // The host made the state directory; the rig sees the host's /tmp only as it was at boot.
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const out = openSync(log, 'a');
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  started.set(child.pid, child);
  child.on('exit', () => started.delete(child.pid));
  return { pid: child.pid };
}

function signalServe({ pid, signal }) {
  const child = started.get(pid);
  if (!signals.has(signal)) throw new Error(`signal: one of ${[...signals].join(', ')}`);
  if (child) child.kill(signal);
  return {};
}

const server = createServer(async (request, response) => {
  const answer = (status, body) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  if (request.headers.authorization !== `Bearer ${token}`) return answer(401, { error: 'unauthorized' });
  try {
    const url = new URL(request.url ?? '/', 'http://rig');
    if (request.method === 'GET' && url.pathname === '/health') return answer(200, {});
    if (request.method === 'GET' && url.pathname === '/alive') return answer(200, { alive: started.has(Number(url.searchParams.get('pid'))) });
    if (request.method === 'POST' && url.pathname === '/start') return answer(200, startServe(await readJson(request)));
    if (request.method === 'POST' && url.pathname === '/signal') return answer(200, signalServe(await readJson(request)));
    return answer(404, { error: 'not found' });
  } catch (error) {
    return answer(400, { error: error.message });
  }
});

// The rig's script sends SIGTERM when the tests end: the servers stop their VMs first.
process.on('SIGTERM', () => {
  server.close();
  for (const child of started.values()) child.kill('SIGTERM');
  const waitForChildren = setInterval(() => started.size === 0 && (clearInterval(waitForChildren), process.exit(0)), 100);
});
server.listen(port, process.env.RIG_GUEST_ADDR ?? '10.0.2.15', () => console.log(`rig launcher: listening on ${port}`));
