// Samples the resident memory of the server and of every agent a few times
// a second while a run goes on, keeping the maximum of each and the
// server's samples per phase: "memory stayed bounded" is a figure read here.
import { agentProcesses, rssOf } from './server-process.ts';

export interface MemoryFigures {
  samples: number;
  serverMaxBytes: number;
  serverFirstBytes: number | null;
  serverLastBytes: number | null;
  agentMaxBytes: number;
  /** Per phase: the server's largest sample while it ran. */
  serverMaxByPhase: Record<string, number>;
}

export class MemoryWatch {
  readonly #stateDir: string;
  readonly #serverPid: () => number | null;
  #timer: NodeJS.Timeout | undefined;
  #phase = 'start';
  readonly figures: MemoryFigures = { samples: 0, serverMaxBytes: 0, serverFirstBytes: null, serverLastBytes: null, agentMaxBytes: 0, serverMaxByPhase: {} };

  constructor(stateDir: string, serverPid: () => number | null) {
    this.#stateDir = stateDir;
    this.#serverPid = serverPid;
  }

  start(everyMs = 200): void {
    this.sample();
    this.#timer = setInterval(() => this.sample(), everyMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.sample();
  }

  phase(name: string): void {
    this.#phase = name;
  }

  sample(): void {
    const pid = this.#serverPid();
    const rss = pid === null ? null : rssOf(pid);
    if (rss !== null) {
      const f = this.figures;
      f.samples++;
      f.serverFirstBytes ??= rss;
      f.serverLastBytes = rss;
      f.serverMaxBytes = Math.max(f.serverMaxBytes, rss);
      f.serverMaxByPhase[this.#phase] = Math.max(f.serverMaxByPhase[this.#phase] ?? 0, rss);
    }
    // Agents are sampled less often: a walk of /proc costs more than one status file.
    if (this.figures.samples % 5 === 0) {
      for (const agent of agentProcesses(this.#stateDir)) {
        this.figures.agentMaxBytes = Math.max(this.figures.agentMaxBytes, rssOf(agent.pid) ?? 0);
      }
    }
  }
}

export function mib(bytes: number | null): string {
  return bytes === null ? '-' : `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}
