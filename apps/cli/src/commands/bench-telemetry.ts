// `uckpt bench-telemetry`: the telemetry fan-out under load. It starts a real
// `uckpt serve` on loopback, creates N VMs checkpointed every --interval-ms,
// connects M WebSocket clients, and measures for --seconds: frames delivered
// per second, end-to-end lag (epoch start to client receipt) p50/p99, and
// the server process's CPU and peak RSS. Prints a table and writes JSON.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { percentiles } from '@uckpt/native-core';
import WebSocket from 'ws';
import { choiceOption, integerOption } from '../options.js';

const cli = fileURLToPath(new URL('../main.js', import.meta.url));
const clockTicksPerSecond = 100;

export async function benchTelemetryCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      vms: { type: 'string' },
      clients: { type: 'string' },
      'interval-ms': { type: 'string' },
      seconds: { type: 'string' },
      backend: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const vms = integerOption('vms', values.vms, { min: 1, max: 64, fallback: 8 });
  const clients = integerOption('clients', values.clients, { min: 1, max: 1000, fallback: 50 });
  const intervalMs = integerOption('interval-ms', values['interval-ms'], { min: 1, max: 10_000, fallback: 50 });
  const seconds = integerOption('seconds', values.seconds, { min: 1, max: 3600, fallback: 20 });
  const backend = choiceOption('backend', values.backend, ['kvm', 'sim'] as const, 'kvm');
  const outDir = path.resolve(values.out ?? path.join('bench', 'results'));
  const say = (message: string) => process.stderr.write(`uckpt bench-telemetry: ${message}\n`);

  const stateDir = mkdtempSync(path.join(tmpdir(), 'uckpt-bt-'));
  const token = randomBytes(24).toString('base64url');
  const port = await freePort();
  const server = spawn(process.execPath, [cli, 'serve', '--port', String(port), '--state-dir', stateDir], {
    env: { ...process.env, UCKPT_OPERATOR_TOKEN: token },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let serverLog = '';
  server.stderr!.on('data', (chunk) => (serverLog += chunk));
  const base = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  try {
    await waitFor(async () => (await fetch(`${base}/api/health`).catch(() => null))?.ok ?? false, 15_000, () => serverLog);
    say(`creating ${vms} ${backend} VMs at ${intervalMs} ms`);
    for (let i = 0; i < vms; i++) {
      const body = { name: `bench-${i}`, workload: 'graph', backend, memoryMiB: 512, seed: i + 1, settings: { intervalMs, predictor: 'history' } };
      const answer = await fetch(`${base}/api/vms`, { method: 'POST', headers, body: JSON.stringify(body) });
      if (answer.status !== 201) throw new Error(`creating VM ${i}: ${answer.status} ${await answer.text()}`);
    }
    say(`connecting ${clients} WebSocket clients`);
    const lags: number[] = [];
    let frames = 0;
    let measuring = false;
    const sockets = await Promise.all(
      Array.from({ length: clients }, () => new Promise<WebSocket>((resolve, reject) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}/ws/telemetry`, ['uckpt.v1', `bearer.${token}`]);
        socket.on('message', (data) => {
          if (!measuring) return;
          frames++;
          const event = JSON.parse(String(data)) as { type: string; time: number };
          // Sample the lag: every frame's parse is measured, a share of them kept.
          if (event.type === 'epoch' && frames % 7 === 0) lags.push(Date.now() - event.time);
        });
        socket.once('open', () => resolve(socket));
        socket.once('error', reject);
      })),
    );
    await new Promise((resolve) => setTimeout(resolve, 3000)); // past calibration
    say(`measuring for ${seconds} s`);
    const cpuBefore = cpuTicks(server.pid!);
    let rssMax = 0;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssBytes(server.pid!))), 250);
    measuring = true;
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    measuring = false;
    const elapsedS = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const cpuPct = ((cpuTicks(server.pid!) - cpuBefore) / clockTicksPerSecond / elapsedS) * 100;
    for (const socket of sockets) socket.close();

    const lag = lags.length > 0 ? percentiles(lags) : null;
    const result = {
      vms, clients, intervalMs, backend, seconds: elapsedS,
      expectedFramesPerSecond: (vms * clients * 1000) / intervalMs,
      deliveredFramesPerSecond: frames / elapsedS,
      lagMs: { p50: lag?.p50 ?? null, p99: lag?.p99 ?? null },
      serverCpuPct: cpuPct,
      serverRssMaxMiB: rssMax / (1 << 20),
    };
    process.stdout.write(
      `telemetry fan-out: ${vms} ${backend} VMs at ${intervalMs} ms x ${clients} WebSocket clients, ${elapsedS.toFixed(1)} s\n` +
        `  frames/s expected  ${result.expectedFramesPerSecond.toFixed(0)}\n` +
        `  frames/s delivered ${result.deliveredFramesPerSecond.toFixed(0)}\n` +
        `  lag p50 / p99      ${fmt(result.lagMs.p50)} / ${fmt(result.lagMs.p99)} ms (epoch start to client)\n` +
        `  server CPU         ${cpuPct.toFixed(1)} % of one core\n` +
        `  server RSS max     ${result.serverRssMaxMiB.toFixed(1)} MiB\n`,
    );
    mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, `telemetry-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`results: ${path.relative(process.cwd(), file)}\n`);
    return 0;
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    rmSync(stateDir, { recursive: true, force: true });
  }
}

function fmt(value: number | null): string {
  return value === null ? '-' : value.toFixed(1);
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function waitFor(probe: () => Promise<boolean>, timeoutMs: number, context: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`the server did not come up:\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
