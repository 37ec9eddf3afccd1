// A real `uckpt serve` for the hostile runs: spawned from the built CLI with
// a private scratch state directory and tokens in the environment, killed
// with whatever signal the run asks for (kill -9 included) and restarted on
// the same state directory. Also what /proc says about it and about the
// agent processes serving VMs from that state directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cliPath, repoRoot } from '../lib/server.ts';

const agentProgram = path.join(repoRoot, 'packages/engine/dist/agent/main.js');

export interface Tokens {
  operator: string;
  viewer: string;
}

export interface ServeOptions {
  stateDir: string;
  port: number;
  tokens: Tokens;
  /** Extra `serve` flags, e.g. ['--allow-fault-injection']. */
  args: string[];
  /** The server's stdout and stderr go here (appended). */
  logFile: string;
}

export function scratchStateDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export class ServerProcess {
  readonly options: ServeOptions;
  readonly child: ChildProcess;
  readonly url: string;
  /** Set once the process has exited: how. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  private constructor(options: ServeOptions, child: ChildProcess) {
    this.options = options;
    this.child = child;
    this.url = `http://127.0.0.1:${options.port}`;
    child.on('exit', (code, signal) => (this.exit = { code, signal }));
  }

  /**
   * Starts the server and waits until /api/health answers. A server that does
   * not is killed before the error is thrown: nothing is left running. The
   * wait is long: on a busy shared host a niced start can take tens of seconds.
   */
  static async start(options: ServeOptions, timeoutMs = 120_000): Promise<ServerProcess> {
    const out = openSync(options.logFile, 'a');
    // On this host, whatever it has: the hostile runs test the service, not the KVM rig.
    const args = [cliPath, 'serve', '--hypervisor', 'kvm', '--state-dir', options.stateDir, '--port', String(options.port), ...options.args];
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      env: { ...process.env, UCKPT_OPERATOR_TOKEN: options.tokens.operator, UCKPT_VIEWER_TOKEN: options.tokens.viewer },
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    const server = new ServerProcess(options, child);
    try {
      await server.#waitHealthy(timeoutMs);
    } catch (error) {
      await server.stop('SIGKILL');
      throw error;
    }
    return server;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exit === null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The server's resident memory now, bytes; null once it is gone. */
  rssBytes(): number | null {
    return this.alive ? rssOf(this.pid) : null;
  }

  /** Sends `signal` and waits for the process to end (SIGKILL after `graceMs`). */
  async stop(signal: NodeJS.Signals, graceMs = 20_000): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill(signal);
    const timer = setTimeout(() => this.alive && this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** The last lines of its log, for messages that explain a failure. */
  logTail(lines = 15): string {
    try {
      return readFileSync(this.options.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  async #waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive) throw new Error(`uckpt serve exited at start (${describeExit(this.exit)}):\n${this.logTail()}`);
      try {
        const answer = await fetch(`${this.url}/api/health`);
        if (answer.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`uckpt serve did not answer ${this.url}/api/health within ${timeoutMs} ms:\n${this.logTail()}`);
  }
}

export function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null } | null): string {
  if (!exit) return 'still running';
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

export interface AgentProcess {
  pid: number;
  vmId: string;
  socket: string;
  startTime: number;
}

/** Every agent process whose socket is in `stateDir`'s agents/ directory, as /proc shows them now. */
export function agentProcesses(stateDir: string): AgentProcess[] {
  const agentsDir = `${path.join(stateDir, 'agents')}/`;
  const found: AgentProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const argv = commandLine(pid);
    if (!argv || !argv.includes(agentProgram)) continue;
    const socket = argValue(argv, '--socket');
    const vmId = argValue(argv, '--vm-id');
    const stat = processStat(pid);
    if (!socket?.startsWith(agentsDir) || !vmId || !stat || stat.state === 'Z') continue;
    found.push({ pid, vmId, socket, startTime: stat.startTime });
  }
  return found;
}

/** Whether the process that had `startTime` still runs under `pid` (not a zombie). */
export function stillRunning(pid: number, startTime: number): boolean {
  const stat = processStat(pid);
  return stat !== null && stat.startTime === startTime && stat.state !== 'Z';
}

export function rssOf(pid: number): number | null {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : null;
  } catch {
    return null;
  }
}

function commandLine(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw ? raw.replace(/\0$/, '').split('\0') : null;
  } catch {
    return null;
  }
}

function argValue(argv: string[], flag: string): string | undefined {
  const at = argv.indexOf(flag);
  return at >= 0 ? argv[at + 1] : undefined;
}

function processStat(pid: number): { state: string; startTime: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', startTime: Number(fields[19]) };
  } catch {
    return null;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
