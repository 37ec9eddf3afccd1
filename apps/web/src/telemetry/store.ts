// The telemetry store: everything the stream and the REST answers say about
// the VMs, kept outside React. Events land in ring buffers as they arrive;
// subscribers (useSyncExternalStore) hear about it at most once per publish
// interval (100 ms: ~10 times a second), and not at all while nothing changed.
import type { EpochEvent, TelemetryEvent, VmView } from '../api/types.ts';
import { VmSeries } from './series.ts';

export type ConnectionStatus = 'connecting' | 'live' | 'disconnected';
export interface ConnectionState {
  status: ConnectionStatus;
  /** Failed attempts since the last successful connection. */
  attempt: number;
  /** When the next attempt starts (browser clock), while disconnected. */
  retryAt: number | null;
}

/** Notable events shown in lists: everything but epochs and console lines. */
export type NotableEvent = Exclude<TelemetryEvent, { type: 'epoch' } | { type: 'console' }>;

const NOTABLE_PER_VM = 200;
const CONSOLE_LINES = 500;
/** Live epochs held while a backfill is in flight, at most. */
const BACKFILL_HOLD = 10_000;

export interface Scheduler {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  now(): number;
}

const browserScheduler: Scheduler = {
  setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
  clearInterval: (h) => globalThis.clearInterval(h as ReturnType<typeof setInterval>),
  now: () => Date.now(),
};

function isTelemetryEvent(x: unknown): x is TelemetryEvent {
  if (typeof x !== 'object' || x === null) return false;
  const e = x as { type?: unknown; vmId?: unknown; time?: unknown };
  return typeof e.type === 'string' && typeof e.vmId === 'string' && typeof e.time === 'number';
}

export class TelemetryStore {
  readonly publishMs: number;
  private version = 0;
  private changed = false;
  private readonly listeners = new Set<() => void>();
  private timer: unknown = null;

  private vmMap = new Map<string, VmView>();
  private vmList: VmView[] = [];
  private vmsLoaded = false;
  private readonly seriesMap = new Map<string, VmSeries>();
  /** Live epochs that arrived while a VM's recent epochs were being fetched (backfill). */
  private readonly backfilling = new Map<string, EpochEvent[]>();
  private readonly backfilled = new Set<string>();
  private readonly notable = new Map<string, NotableEvent[]>();
  private readonly consoleLines = new Map<string, string[]>();
  private conn: ConnectionState = { status: 'connecting', attempt: 0, retryAt: null };
  /** Server clock minus browser clock, from the newest event. */
  private clockOffset = 0;
  /** Events the server reported as coalesced (we fell behind). */
  missed = 0;
  /** Called when an event names a VM the store has not seen (the list is stale). */
  onUnknownVm: ((vmId: string) => void) | null = null;

  constructor(
    private readonly scheduler: Scheduler = browserScheduler,
    publishMs = 100,
  ) {
    this.publishMs = publishMs;
  }

  // --- React side -------------------------------------------------------

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    if (this.timer === null) this.timer = this.scheduler.setInterval(() => this.publish(), this.publishMs);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.timer !== null) {
        this.scheduler.clearInterval(this.timer);
        this.timer = null;
      }
    };
  };

  /** Snapshot token for useSyncExternalStore: changes once per published batch. */
  getVersion = (): number => this.version;

  /** Publishes pending changes now (the timer calls this). */
  publish(): void {
    if (!this.changed) return;
    this.changed = false;
    this.version += 1;
    for (const l of [...this.listeners]) l();
  }

  private touch(): void {
    this.changed = true;
  }

  // --- reads --------------------------------------------------------------

  get vms(): readonly VmView[] {
    return this.vmList;
  }
  get loaded(): boolean {
    return this.vmsLoaded;
  }
  vm(id: string): VmView | undefined {
    return this.vmMap.get(id);
  }
  series(id: string): VmSeries {
    let s = this.seriesMap.get(id);
    if (!s) {
      s = new VmSeries();
      this.seriesMap.set(id, s);
    }
    return s;
  }
  events(id: string): readonly NotableEvent[] {
    return this.notable.get(id) ?? [];
  }
  console(id: string): readonly string[] {
    return this.consoleLines.get(id) ?? [];
  }
  get connection(): ConnectionState {
    return this.conn;
  }
  /** The server's clock now, estimated from event times. */
  serverNow(): number {
    return this.scheduler.now() + this.clockOffset;
  }

  // --- writes ---------------------------------------------------------------

  setConnection(state: ConnectionState): void {
    this.conn = state;
    this.touch();
    // Connection changes are shown at once, not with the next batch.
    this.publish();
  }

  /** Replaces the VM list with the server's answer. */
  setVms(vms: readonly VmView[]): void {
    const map = new Map<string, VmView>();
    for (const v of vms) map.set(v.id, v);
    for (const id of this.seriesMap.keys()) if (!map.has(id)) this.forgetSeries(id);
    this.vmMap = map;
    this.vmList = [...vms].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    this.vmsLoaded = true;
    this.touch();
  }

  /** Updates or adds one VM from a REST answer. */
  upsertVm(vm: VmView): void {
    const had = this.vmMap.has(vm.id);
    this.vmMap.set(vm.id, vm);
    this.vmList = had ? this.vmList.map((v) => (v.id === vm.id ? vm : v)) : [...this.vmList, vm];
    this.touch();
  }

  removeVm(id: string): void {
    this.vmMap.delete(id);
    this.vmList = this.vmList.filter((v) => v.id !== id);
    this.forgetSeries(id);
    this.touch();
  }

  /** One parsed WebSocket frame: an event, or a coalesced batch. */
  ingestFrame(frame: unknown): void {
    if (typeof frame !== 'object' || frame === null) return;
    const f = frame as { type?: unknown; missed?: unknown; events?: unknown };
    if (f.type === 'coalesced') {
      if (typeof f.missed === 'number') this.missed += f.missed;
      if (Array.isArray(f.events)) for (const e of f.events) if (isTelemetryEvent(e)) this.ingest(e);
      this.touch();
      return;
    }
    if (isTelemetryEvent(frame)) this.ingest(frame);
  }

  ingest(e: TelemetryEvent): void {
    this.clockOffset = e.time - this.scheduler.now();
    const vm = this.vmMap.get(e.vmId);
    if (!vm && this.vmsLoaded) this.onUnknownVm?.(e.vmId);
    switch (e.type) {
      case 'epoch': {
        this.series(e.vmId).add(e);
        const held = this.backfilling.get(e.vmId);
        if (held && held.length < BACKFILL_HOLD) held.push(e);
        if (vm)
          this.replace({
            ...vm,
            overheadPct: e.overheadPct,
            overheadCalibratedPct: e.overheadCalibratedPct,
            progress: { ...vm.progress, rate: e.progressRate },
            storeBytes: e.storeBytes,
            checkpointsRetained: e.checkpointsRetained,
            epochs: Math.max(vm.epochs, e.seq),
            lastCheckpointTime: e.time,
            // Same settings object unless they changed: components memoize on it.
            settings:
              vm.settings.intervalMs === e.intervalMs && vm.settings.mode === e.mode
                ? vm.settings
                : { ...vm.settings, intervalMs: e.intervalMs, mode: e.mode },
          });
        break;
      }
      case 'checkpoint':
        if (vm) this.replace({ ...vm, lastCheckpointTime: e.time });
        if (e.manual) this.remember(e);
        break;
      case 'vm-state':
        if (vm) this.replace({ ...vm, state: e.state, reason: e.reason ?? null });
        this.remember(e);
        break;
      case 'interval-tuned':
        // Auto-tune changed the settings in force: the VM's view follows.
        if (vm) this.replace({ ...vm, settings: { ...vm.settings, intervalMs: e.to } });
        this.remember(e);
        break;
      case 'rollback':
      case 'alert':
      case 'recovery':
      case 'fault':
        this.remember(e);
        break;
      case 'console': {
        const lines = [...(this.consoleLines.get(e.vmId) ?? []), e.line];
        this.consoleLines.set(e.vmId, lines.length > CONSOLE_LINES ? lines.slice(-CONSOLE_LINES) : lines);
        break;
      }
    }
    this.touch();
  }

  /**
   * Charts drawn mid-run (a reload, a VM opened late) start from the
   * server's recent epochs (GET /api/vms/:id/epochs), not from empty:
   * beginBackfill before asking, backfill with the answer. The series is
   * rebuilt from the answer, then the live epochs that came meanwhile and
   * are newer than its last. Once per VM.
   */
  beginBackfill(vmId: string): boolean {
    if (this.backfilled.has(vmId) || this.backfilling.has(vmId)) return false;
    this.backfilling.set(vmId, []);
    return true;
  }

  backfill(vmId: string, recent: readonly EpochEvent[] | null): void {
    const held = this.backfilling.get(vmId);
    this.backfilling.delete(vmId);
    this.backfilled.add(vmId);
    if (!held || !recent || recent.length === 0) return; // the live series stays as it is
    const last = recent[recent.length - 1]!;
    const newer = (e: EpochEvent) => e.time > last.time || (e.time === last.time && e.seq > last.seq);
    const rebuilt = new VmSeries();
    for (const e of recent) rebuilt.add(e);
    for (const e of held) if (newer(e)) rebuilt.add(e);
    this.seriesMap.set(vmId, rebuilt);
    this.touch();
  }

  /** Seeds a VM's console from the REST history (live lines follow). */
  setConsole(vmId: string, lines: readonly string[]): void {
    this.consoleLines.set(vmId, lines.slice(-CONSOLE_LINES));
    this.touch();
  }

  private forgetSeries(id: string): void {
    this.seriesMap.delete(id);
    this.backfilling.delete(id);
    this.backfilled.delete(id);
  }

  private replace(vm: VmView): void {
    this.vmMap.set(vm.id, vm);
    const i = this.vmList.findIndex((v) => v.id === vm.id);
    if (i >= 0) {
      this.vmList = this.vmList.slice();
      this.vmList[i] = vm;
    }
  }

  private remember(e: NotableEvent): void {
    // A new array each time: lists are read by reference in components.
    const list = [...(this.notable.get(e.vmId) ?? []), e];
    this.notable.set(e.vmId, list.length > NOTABLE_PER_VM ? list.slice(-NOTABLE_PER_VM) : list);
  }
}
