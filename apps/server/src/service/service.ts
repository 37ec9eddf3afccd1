// The long-lived parts of a running server, built once: the store, the
// tokens, the agents' supervisor, and the telemetry pipeline that feeds the
// event history, the metrics and the WebSocket clients from every agent.
import type { InstanceLock, TelemetryEvent } from '@uckpt/engine';
import { TelemetryMetrics } from '../metrics/index.js';
import { EpochSummarizer, Store, type AuditRetention } from '../store/index.js';
import type { CapacityLimits } from './capacity.js';
import { recoveryAuditEntry } from './recovery-audit.js';
import { Supervisor } from './supervisor.js';
import { tuningAuditEntry } from './tuning-audit.js';
import { RecentEpochs } from './recent-epochs.js';
import { TelemetryHub } from './telemetry-hub.js';
import { lockStateDir, prepareStateDir } from './state-dir.js';
import { loadTokens, type TokenRing, type TokenSource } from './tokens.js';

export interface ServiceOptions {
  stateDir: string;
  /** Where the agents' sockets are, when not in the state directory (see SupervisorOptions). */
  socketsDir?: string;
  log: (message: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Agents calibrate this long before protecting their VM (default 2000 ms). */
  calibrationMs?: number;
  startTimeoutMs?: number;
  /** Collect Node process metrics (on in production; one collector per process). */
  processMetrics?: boolean;
  capacity?: Partial<CapacityLimits>;
  auditRetention?: Partial<AuditRetention>;
}

/** How often old audit rows are moved to the archive, beside every thousand new ones. */
const archiveEveryMs = 3_600_000;

export class Service {
  readonly store: Store;
  readonly tokens: TokenRing;
  readonly tokenSources: TokenSource[];
  readonly metrics: TelemetryMetrics;
  readonly hub = new TelemetryHub();
  /** The last epochs of each VM, for charts drawn mid-run (GET /api/vms/:id/epochs). */
  readonly recentEpochs = new RecentEpochs();
  readonly supervisor: Supervisor;
  readonly #summarizer: EpochSummarizer;
  readonly #log: (message: string) => void;
  readonly #lock: InstanceLock;
  #archiver: NodeJS.Timeout | undefined;

  private constructor(options: ServiceOptions, lock: InstanceLock) {
    this.#lock = lock;
    this.#log = options.log;
    this.store = new Store(options.stateDir, options.auditRetention ? { auditRetention: options.auditRetention } : {});
    const { ring, sources } = loadTokens(options.stateDir, options.env);
    this.tokens = ring;
    this.tokenSources = sources;
    this.metrics = new TelemetryMetrics({ processMetrics: options.processMetrics ?? true });
    this.#summarizer = new EpochSummarizer(this.store, { onError: (error) => this.#log(`epoch summary not stored: ${(error as Error).message}`) });
    this.supervisor = new Supervisor({
      stateDir: options.stateDir,
      ...(options.socketsDir ? { socketsDir: options.socketsDir } : {}),
      store: this.store,
      onEvent: (event) => this.#route(event),
      log: options.log,
      ...(options.calibrationMs !== undefined ? { calibrationMs: options.calibrationMs } : {}),
      ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
      ...(options.capacity ? { capacity: options.capacity } : {}),
    });
  }

  /**
   * Opens the state directory (refused unless private, and unless no other
   * server holds it) and re-attaches to the agents of every stored VM.
   */
  static async open(options: ServiceOptions): Promise<Service> {
    prepareStateDir(options.stateDir);
    const lock = lockStateDir(options.stateDir);
    let service: Service;
    try {
      service = new Service(options, lock);
    } catch (error) {
      lock.release();
      throw error;
    }
    await service.supervisor.attachAll();
    service.#publishVms();
    service.#summarizer.start();
    service.#archiveAudit();
    service.#archiver = setInterval(() => service.#archiveAudit(), archiveEveryMs).unref();
    return service;
  }

  /** Stops the service; with `stopAgents` the VMs stop too, otherwise they run on for the next start. */
  async close({ stopAgents }: { stopAgents: boolean }): Promise<void> {
    if (stopAgents) await this.supervisor.stopAll();
    else this.supervisor.detachAll();
    this.#summarizer.stop();
    clearInterval(this.#archiver);
    this.hub.close();
    this.store.close();
    this.#lock.release();
  }

  #archiveAudit(): void {
    try {
      const moved = this.store.archiveAudit();
      if (moved > 0) this.#log(`moved ${moved} old audit rows to the audit archive`);
    } catch (error) {
      this.#log(`audit rows not archived: ${(error as Error).message}`);
    }
  }

  /** Called after a VM is created or deleted. */
  vmsChanged(deletedId?: string): void {
    if (deletedId) {
      this.#summarizer.forget(deletedId);
      this.recentEpochs.forget(deletedId);
    }
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
    this.recentEpochs.observe(event);
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
