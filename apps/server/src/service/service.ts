// The long-lived parts of a running server, built once: the store, the
// tokens, the agents' supervisor, and the telemetry pipeline that feeds the
// event history, the metrics and the WebSocket clients from every agent.
import { mkdirSync } from 'node:fs';
import type { TelemetryEvent } from '@uckpt/engine';
import { TelemetryMetrics } from '../metrics/index.js';
import { EpochSummarizer, Store } from '../store/index.js';
import { recoveryAuditEntry } from './recovery-audit.js';
import { Supervisor } from './supervisor.js';
import { tuningAuditEntry } from './tuning-audit.js';
import { TelemetryHub } from './telemetry-hub.js';
import { loadTokens, type TokenRing, type TokenSource } from './tokens.js';

export interface ServiceOptions {
  stateDir: string;
  log: (message: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Agents calibrate this long before protecting their VM (default 2000 ms). */
  calibrationMs?: number;
  startTimeoutMs?: number;
  /** Collect Node process metrics (on in production; one collector per process). */
  processMetrics?: boolean;
}

export class Service {
  readonly store: Store;
  readonly tokens: TokenRing;
  readonly tokenSources: TokenSource[];
  readonly metrics: TelemetryMetrics;
  readonly hub = new TelemetryHub();
  readonly supervisor: Supervisor;
  readonly #summarizer: EpochSummarizer;
  readonly #log: (message: string) => void;

  private constructor(options: ServiceOptions) {
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
    this.#log = options.log;
    this.store = new Store(options.stateDir);
    const { ring, sources } = loadTokens(options.stateDir, options.env);
    this.tokens = ring;
    this.tokenSources = sources;
    this.metrics = new TelemetryMetrics({ processMetrics: options.processMetrics ?? true });
    this.#summarizer = new EpochSummarizer(this.store, { onError: (error) => this.#log(`epoch summary not stored: ${(error as Error).message}`) });
    this.supervisor = new Supervisor({
      stateDir: options.stateDir,
      store: this.store,
      onEvent: (event) => this.#route(event),
      log: options.log,
      ...(options.calibrationMs !== undefined ? { calibrationMs: options.calibrationMs } : {}),
      ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
    });
  }

  /** Opens the state directory and re-attaches to the agents of every stored VM. */
  static async open(options: ServiceOptions): Promise<Service> {
    const service = new Service(options);
    await service.supervisor.attachAll();
    service.#publishVms();
    service.#summarizer.start();
    return service;
  }

  /** Stops the service; with `stopAgents` the VMs stop too, otherwise they run on for the next start. */
  async close({ stopAgents }: { stopAgents: boolean }): Promise<void> {
    if (stopAgents) await this.supervisor.stopAll();
    else this.supervisor.detachAll();
    this.#summarizer.stop();
    this.hub.close();
    this.store.close();
  }

  /** Called after a VM is created or deleted. */
  vmsChanged(deletedId?: string): void {
    if (deletedId) this.#summarizer.forget(deletedId);
    this.#publishVms();
  }

  #route(event: TelemetryEvent): void {
    try {
      this.store.recordEvent(event);
    } catch (error) {
      this.#log(`event not stored: ${(error as Error).message}`);
    }
    this.#auditSystem(event);
    this.#summarizer.observe(event);
    this.metrics.observe(event);
    this.hub.publish(event);
    if (event.type === 'vm-state') this.#publishVms();
  }

  /** What the engine does on its own (recovery, auto-tune) is audited as the 'system' actor. */
  #auditSystem(event: TelemetryEvent): void {
    const recovery = recoveryAuditEntry(event);
    const tuning = recovery ? null : tuningAuditEntry(event);
    const entry = recovery ?? tuning;
    if (!entry) return;
    try {
      this.store.appendAudit({ ...entry, role: 'system', tokenLabel: recovery ? 'automatic recovery' : 'auto-tune', client: null });
    } catch (error) {
      this.#log(`audit entry not stored: ${(error as Error).message}`);
    }
  }

  #publishVms(): void {
    this.metrics.setVms(this.store.listVms().map(({ id, spec, state }) => ({ id, name: spec.name, backend: spec.backend, state })));
  }
}
