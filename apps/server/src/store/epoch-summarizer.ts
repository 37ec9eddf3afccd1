// Epochs arrive tens of times a second per VM; the history keeps one summary
// row per VM per window (a minute by default) instead. The live stream and
// /metrics carry the full rate; this is what is left to look back on.
import type { CheckpointMode, EpochEvent, TelemetryEvent } from '@uckpt/engine';
import { nearestRank } from '@uckpt/native-core/percentiles';

export interface CheckpointSummaryEvent {
  type: 'checkpoint-summary';
  vmId: string;
  /** When the summary was written, Unix ms. */
  time: number;
  /** Times of the first and last epoch summarized. */
  from: number;
  to: number;
  firstSeq: number;
  lastSeq: number;
  /** Epoch records summarized. */
  epochs: number;
  /** Epochs the agent coalesced away before sending: they happened but are not in the statistics. */
  coalesced: number;
  /** As of the last epoch in the window. */
  mode: CheckpointMode;
  intervalMs: number;
  storeBytes: number;
  checkpointsRetained: number;
  dirtyPagesMean: number;
  dirtyPagesMax: number;
  /** Copied while the VM was paused, and ahead while it ran (stop-and-copy). */
  pagesCopied: number;
  pagesPrecopied: number;
  /** Nearest-rank percentiles of the pause per epoch. */
  pauseUsP50: number;
  pauseUsP99: number;
  pauseUsMax: number;
  faults: number;
  faultUs: number;
  /** How long the window's checkpoints began past their due time, summed. */
  lateUs: number;
  /** Mean over the calibrated epochs; null when none was. */
  overheadPctMean: number | null;
}

export interface SummarySink {
  recordEvent(event: CheckpointSummaryEvent): unknown;
}

export interface SummarizerOptions {
  /** Window length; default 60. */
  intervalSeconds?: number;
  /** Pause samples kept per VM and window before sampling kicks in; default 100 000. */
  maxSamplesPerVm?: number;
  now?: () => number;
  /** A failed write in a timer-driven flush lands here rather than crashing the service. */
  onError?: (error: unknown) => void;
}

/** One VM's epochs in the current window. */
class Window {
  readonly from: number;
  readonly firstSeq: number;
  last: EpochEvent;
  epochs = 0;
  coalesced = 0;
  dirtyPagesSum = 0;
  dirtyPagesMax = 0;
  pagesCopied = 0;
  pagesPrecopied = 0;
  faults = 0;
  faultUs = 0;
  lateUs = 0;
  overheadSum = 0;
  overheadCount = 0;
  pauseMax = 0;
  /** A uniform sample of the pauses once there are more than fit (reservoir sampling). */
  readonly pauses: number[] = [];

  constructor(
    first: EpochEvent,
    private readonly maxSamples: number,
  ) {
    this.from = first.time;
    this.firstSeq = first.seq;
    this.last = first;
  }

  add(event: EpochEvent): void {
    this.last = event;
    this.epochs += 1;
    this.coalesced += event.coalesced;
    this.dirtyPagesSum += event.dirtyPages;
    this.dirtyPagesMax = Math.max(this.dirtyPagesMax, event.dirtyPages);
    this.pagesCopied += event.pagesCopied;
    this.pagesPrecopied += event.pagesPrecopied;
    this.faults += event.faults;
    this.faultUs += event.faultUs;
    this.lateUs += event.lateUs;
    if (event.overheadPct !== null) {
      this.overheadSum += event.overheadPct;
      this.overheadCount += 1;
    }
    this.pauseMax = Math.max(this.pauseMax, event.pauseUs);
    if (this.pauses.length < this.maxSamples) {
      this.pauses.push(event.pauseUs);
    } else {
      const slot = Math.floor(Math.random() * this.epochs);
      if (slot < this.maxSamples) this.pauses[slot] = event.pauseUs;
    }
  }

  summary(time: number): CheckpointSummaryEvent {
    const pauses = Float64Array.from(this.pauses).sort();
    const { last } = this;
    return {
      type: 'checkpoint-summary',
      vmId: last.vmId,
      time,
      from: this.from,
      to: last.time,
      firstSeq: this.firstSeq,
      lastSeq: last.seq,
      epochs: this.epochs,
      coalesced: this.coalesced,
      mode: last.mode,
      intervalMs: last.intervalMs,
      storeBytes: last.storeBytes,
      checkpointsRetained: last.checkpointsRetained,
      dirtyPagesMean: this.dirtyPagesSum / this.epochs,
      dirtyPagesMax: this.dirtyPagesMax,
      pagesCopied: this.pagesCopied,
      pagesPrecopied: this.pagesPrecopied,
      pauseUsP50: nearestRank(pauses, 50),
      pauseUsP99: nearestRank(pauses, 99),
      pauseUsMax: this.pauseMax,
      faults: this.faults,
      faultUs: this.faultUs,
      lateUs: this.lateUs,
      overheadPctMean: this.overheadCount > 0 ? this.overheadSum / this.overheadCount : null,
    };
  }
}

export class EpochSummarizer {
  private readonly windows = new Map<string, Window>();
  private readonly intervalMs: number;
  private readonly maxSamples: number;
  private readonly now: () => number;
  private readonly onError: (error: unknown) => void;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sink: SummarySink,
    options: SummarizerOptions = {},
  ) {
    this.intervalMs = (options.intervalSeconds ?? 60) * 1000;
    this.maxSamples = options.maxSamplesPerVm ?? 100_000;
    this.now = options.now ?? Date.now;
    this.onError = options.onError ?? ((error) => process.emitWarning(`epoch summary not written: ${String(error)}`));
  }

  /** Takes any telemetry event; only epochs count. */
  observe(event: TelemetryEvent): void {
    if (event.type !== 'epoch') return;
    let window = this.windows.get(event.vmId);
    if (!window) {
      window = new Window(event, this.maxSamples);
      this.windows.set(event.vmId, window);
    }
    window.add(event);
  }

  /** Writes one summary per VM that had epochs since the last flush, and starts new windows. */
  flush(): CheckpointSummaryEvent[] {
    const time = this.now();
    const summaries = [...this.windows.values()].map((window) => window.summary(time));
    this.windows.clear();
    for (const summary of summaries) this.sink.recordEvent(summary);
    return summaries;
  }

  /** Flushes every window length until stop(); the timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      try {
        this.flush();
      } catch (error) {
        this.onError(error);
      }
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what has accumulated, so a clean shutdown loses nothing. */
  stop(): CheckpointSummaryEvent[] {
    clearInterval(this.timer);
    this.timer = undefined;
    return this.flush();
  }

  /** Drops a deleted VM's partial window. */
  forget(vmId: string): void {
    this.windows.delete(vmId);
  }
}
