// GET /metrics: the telemetry stream folded into Prometheus series. Names
// follow Prometheus conventions (uckpt_ prefix, base units, _total on
// counters); the VM id is a label, checkpoint seqs never are, since each new
// seq would be a new series and the scraper's memory would grow without end.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { msToSeconds, usToSeconds, type BackendName, type EpochEvent, type RollbackEvent, type TelemetryEvent, type VmState } from '@uckpt/engine';
import { VmSeries } from './vm-series.js';

/** Every VmState, so that uckpt_vm_state can publish 0 for the states a VM is not in. */
export const vmStates = [
  'starting',
  'calibrating',
  'running',
  'paused',
  'rolling-back',
  'finished',
  'crashed',
  'failed',
  'stopped',
] as const satisfies readonly VmState[];
// Fails to compile when VmState gains a member this list lacks.
const everyStateListed: Exclude<VmState, (typeof vmStates)[number]> extends never ? true : never = true;
void everyStateListed;

/** 50 µs .. 100 ms: a stop-and-copy pause of a busy VM at the top, a CoW pause at the bottom. */
export const pauseBucketsSeconds = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
];
/** 100 µs .. 10 s: an in-place rollback of a few pages up to a fallback through many checkpoints. */
export const rollbackBucketsSeconds = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface VmInfo {
  id: string;
  name: string;
  backend: BackendName;
  state: VmState;
}

export interface TelemetryMetricsOptions {
  /** Node.js process metrics (CPU, memory, event-loop lag, GC) under uckpt_process_ and uckpt_nodejs_; default true. */
  processMetrics?: boolean;
}

const nodeGaugesNamedLikeCounters = ['active_handles_total', 'active_requests_total', 'active_resources_total'];

export class TelemetryMetrics {
  readonly registry = new Registry();
  readonly contentType: string = this.registry.contentType;
  private readonly series = new VmSeries();
  private readonly vmInfo = new Map<string, { name: string; backend: string }>();

  private readonly epochs = this.counter('uckpt_epochs_total', 'Checkpoint epochs completed, including those whose records were coalesced.', []);
  private readonly epochsCoalesced = this.counter(
    'uckpt_epochs_coalesced_total',
    'Epochs whose records the agent coalesced away: counted in uckpt_epochs_total but not in the page, fault and pause series.',
    [],
  );
  private readonly dirtyPages = this.counter('uckpt_dirty_pages_total', 'Guest pages found dirty at checkpoints.', []);
  private readonly pagesCopied = this.counter('uckpt_pages_copied_total', 'Guest pages copied into the checkpoint store while the VM was paused.', []);
  private readonly pagesPrecopied = this.counter(
    'uckpt_pages_copied_ahead_total',
    'Guest pages copied into the checkpoint store ahead of their checkpoint, while the VM ran (stop-and-copy).',
    [],
  );
  private readonly writeFaults = this.counter(
    'uckpt_write_faults_total',
    'Write faults the guest took: copy-on-write faults, or dirty-log faults (stop-and-copy).',
    [],
  );
  private readonly lateSeconds = this.counter(
    'uckpt_checkpoint_late_seconds_total',
    'Time due checkpoints waited past their interval: the engine was still busy (e.g. backing store memory for a large working set).',
    [],
  );
  private readonly checkpoints = this.counter('uckpt_checkpoints_total', 'Checkpoints taken, by the epoch timer (periodic) or on request (manual).', ['kind']);
  private readonly rollbacks = this.counter('uckpt_rollbacks_total', 'Rollbacks attempted, by cause and result.', ['cause', 'result']);
  private readonly alerts = this.counter('uckpt_alerts_total', 'Error-detector alerts raised.', ['detector']);

  private readonly pauseDuration = new Histogram({
    name: 'uckpt_pause_duration_seconds',
    help: 'Time the VM was paused per checkpoint epoch.',
    labelNames: ['vm'],
    buckets: pauseBucketsSeconds,
    registers: [this.registry],
  });
  private readonly rollbackDuration = new Histogram({
    name: 'uckpt_rollback_duration_seconds',
    help: 'Time from rollback start until the VM runs again.',
    labelNames: ['vm'],
    buckets: rollbackBucketsSeconds,
    registers: [this.registry],
  });

  private readonly storeBytes = this.gauge('uckpt_checkpoint_store_bytes', 'Memory held by the retained checkpoints.', []);
  private readonly checkpointsRetained = this.gauge('uckpt_checkpoints_retained', 'Checkpoints currently retained.', []);
  private readonly intervalSeconds = this.gauge('uckpt_checkpoint_interval_seconds', 'Configured checkpoint interval.', []);
  private readonly progressRate = this.gauge('uckpt_guest_progress_rate', 'Guest work units completed per second over the last epoch.', []);
  private readonly overheadRatio = this.gauge(
    'uckpt_overhead_ratio',
    'Live checkpointing overhead: calibrated unprotected progress rate / current rate - 1 (absent until calibrated).',
    [],
  );
  private readonly info = this.gauge('uckpt_vm_info', 'Constant 1 per protected VM, carrying its name and backend.', ['name', 'backend']);
  private readonly state = this.gauge('uckpt_vm_state', '1 for the state the VM is in, 0 for the others.', ['state']);

  constructor(options: TelemetryMetricsOptions = {}) {
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, prefix: 'uckpt_' });
      // prom-client names three gauges like counters (a _total suffix, which
      // promtool refuses); each is the sum of a per-type gauge kept beside it.
      for (const name of nodeGaugesNamedLikeCounters) this.registry.removeSingleMetric(`uckpt_nodejs_${name}`);
    }
  }

  observe(event: TelemetryEvent): void {
    switch (event.type) {
      case 'epoch':
        this.observeEpoch(event);
        break;
      case 'checkpoint':
        // Periodic checkpoints are counted from their epochs, one each.
        if (event.manual) this.checkpoints.inc(this.series.note(this.checkpoints, { vm: event.vmId, kind: 'manual' }));
        break;
      case 'rollback':
        this.observeRollback(event);
        break;
      case 'alert':
        this.alerts.inc(this.series.note(this.alerts, { vm: event.vmId, detector: event.detector }));
        break;
      case 'vm-state':
        this.setState(event.vmId, event.state);
        break;
      case 'console':
        break;
    }
  }

  /**
   * The full list of VMs: publishes their info and state, starts their
   * counters at 0 (so that rate() sees their first increase), and drops the
   * series of VMs no longer listed.
   */
  setVms(vms: readonly VmInfo[]): void {
    const listed = new Set(vms.map((vm) => vm.id));
    for (const vmId of new Set([...this.series.vms(), ...this.vmInfo.keys()])) {
      if (!listed.has(vmId)) this.removeVm(vmId);
    }
    for (const vm of vms) {
      const known = this.vmInfo.get(vm.id);
      if (known && (known.name !== vm.name || known.backend !== vm.backend)) {
        this.series.drop(this.info, { vm: vm.id, ...known });
      }
      this.vmInfo.set(vm.id, { name: vm.name, backend: vm.backend });
      this.info.set(this.series.note(this.info, { vm: vm.id, name: vm.name, backend: vm.backend }), 1);
      this.setState(vm.id, vm.state);
      if (!known) this.startCounters(vm.id);
    }
  }

  /** Drops every series of the VM. */
  removeVm(vmId: string): void {
    this.series.removeVm(vmId);
    this.vmInfo.delete(vmId);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  private observeEpoch(event: EpochEvent): void {
    const vm = { vm: event.vmId };
    const epochs = 1 + event.coalesced;
    this.epochs.inc(this.series.note(this.epochs, vm), epochs);
    this.epochsCoalesced.inc(this.series.note(this.epochsCoalesced, vm), event.coalesced);
    this.checkpoints.inc(this.series.note(this.checkpoints, { ...vm, kind: 'periodic' }), epochs);
    this.dirtyPages.inc(this.series.note(this.dirtyPages, vm), event.dirtyPages);
    this.pagesCopied.inc(this.series.note(this.pagesCopied, vm), event.pagesCopied);
    this.pagesPrecopied.inc(this.series.note(this.pagesPrecopied, vm), event.pagesPrecopied);
    this.writeFaults.inc(this.series.note(this.writeFaults, vm), event.faults);
    this.lateSeconds.inc(this.series.note(this.lateSeconds, vm), usToSeconds(event.lateUs));
    this.pauseDuration.observe(this.series.note(this.pauseDuration, vm), usToSeconds(event.pauseUs));
    this.storeBytes.set(this.series.note(this.storeBytes, vm), event.storeBytes);
    this.checkpointsRetained.set(this.series.note(this.checkpointsRetained, vm), event.checkpointsRetained);
    this.intervalSeconds.set(this.series.note(this.intervalSeconds, vm), msToSeconds(event.intervalMs));
    this.progressRate.set(this.series.note(this.progressRate, vm), event.progressRate);
    if (event.overheadPct === null) this.series.drop(this.overheadRatio, vm);
    else this.overheadRatio.set(this.series.note(this.overheadRatio, vm), event.overheadPct / 100);
  }

  private observeRollback(event: RollbackEvent): void {
    const labels = { vm: event.vmId, cause: event.cause, result: event.ok ? 'ok' : 'error' };
    this.rollbacks.inc(this.series.note(this.rollbacks, labels));
    if (event.durationUs !== undefined) {
      this.rollbackDuration.observe(this.series.note(this.rollbackDuration, { vm: event.vmId }), usToSeconds(event.durationUs));
    }
  }

  private setState(vmId: string, current: VmState): void {
    for (const state of vmStates) {
      this.state.set(this.series.note(this.state, { vm: vmId, state }), state === current ? 1 : 0);
    }
  }

  private startCounters(vmId: string): void {
    const vm = { vm: vmId };
    for (const counter of [this.epochs, this.epochsCoalesced, this.dirtyPages, this.pagesCopied, this.pagesPrecopied, this.writeFaults, this.lateSeconds]) {
      counter.inc(this.series.note(counter, vm), 0);
    }
    for (const kind of ['periodic', 'manual']) this.checkpoints.inc(this.series.note(this.checkpoints, { ...vm, kind }), 0);
  }

  private counter(name: string, help: string, extraLabels: string[]): Counter<string> {
    return new Counter({ name, help, labelNames: ['vm', ...extraLabels], registers: [this.registry] });
  }

  private gauge(name: string, help: string, extraLabels: string[]): Gauge<string> {
    return new Gauge({ name, help, labelNames: ['vm', ...extraLabels], registers: [this.registry] });
  }
}
