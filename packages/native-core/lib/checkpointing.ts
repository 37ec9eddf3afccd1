// The checkpoint core's face to JavaScript, the same for every hypervisor:
// how checkpointing is configured, the record of each epoch, the retained
// checkpoints, rollbacks and statistics (napi/checkpointing_js.cc builds
// them). Times from the core are in ns, as it measures them.

export interface CheckpointConfig {
  /** 1..10000, default 50. */
  intervalMs?: number;
  /** Checkpoints kept, 1..1024, default 8. */
  retention?: number;
  /**
   * 'stop-and-copy' (default) copies every written page while the guest is
   * paused; 'cow' pauses only to harvest and write-protect, and saves each
   * page's pre-image at its first write (userfaultfd). Where the host cannot
   * write-protect, 'cow' falls back to 'stop-and-copy': stats() and every
   * epoch record say so (fallbackReason) and a 'checkpoint-warning' event is emitted.
   */
  mode?: CheckpointMode;
  /** Memory bound of the page store; default 1.5 x guest RAM (fixed once enabled). */
  storeMiB?: number;
  /** Threads copying while the guest is paused, 1..16, default defaultCopyThreads() (fixed once enabled). */
  copyThreads?: number;
  /**
   * Stop-and-copy: copy the pages written early in an epoch while the guest
   * runs (at 1/2, 3/4, 7/8 and 15/16 of the interval), protecting them again
   * first, so that the pause copies only what was written since. It takes
   * the epoch thread's CPU for about as long as those copies. Default true;
   * needs the dirty bitmap (with dirty rings it stays off).
   */
  precopy?: boolean;
  /**
   * Dirty-page prediction: pages predicted to be written are left writable
   * (no fault) and examined at every checkpoint. true means 'cost'. Default:
   * 'cost' with the dirty bitmap (it measured best), 'off' with dirty rings.
   */
  predictor?: PredictorName | boolean;
  /**
   * The cost of one dirty-log write-protection fault, for the cost model.
   * Default: as measured on this host when checkpointing is first enabled
   * (costs.dirtyLogFaultNsCalibrated), 3000 ns where that cannot be measured.
   */
  faultNs?: number;
  /** For tests of the fallback: behave as if the host had no userfaultfd write protection. */
  testNoWriteProtect?: boolean;
}

export type CheckpointMode = 'stop-and-copy' | 'cow';

/** What may change while checkpointing runs; what is absent stays. */
export interface CheckpointPatch {
  intervalMs?: number;
  retention?: number;
  enabled?: boolean;
  predictor?: PredictorName | boolean;
  /** A change of mode drops every checkpoint and starts over. */
  mode?: CheckpointMode;
  /** Copying ahead, from the next round on. */
  precopy?: boolean;
}

export type PredictorName = 'off' | 'history' | 'frontier' | 'cost';

/** One record per epoch, from the native epoch loop. */
export interface EpochRecord {
  seq: number;
  /** Unix time in ms at the start of the pause. */
  time: number;
  /**
   * How long after it was due the pause began: the epoch thread was still
   * busy (backing fresh store frames while a large working set is first
   * checkpointed, checksums), or the host was slow to wake it.
   */
  lateNs: number;
  dirtyPages: number;
  pagesCopied: number;
  pauseNs: number;
  /** Reading the dirty log, comparing hot pages. */
  harvestNs: number;
  copyNs: number;
  /** Re-protecting written pages; in stop-and-copy also predicting, while the other threads copy (within copyNs). */
  rearmNs: number;
  storeBytes: number;
  retained: number;
  retired: number;
  /** Prediction: hot pages, of which written (true positives) or not; written cold pages (misses, each a fault). */
  predicted: number;
  truePositives: number;
  falsePositives: number;
  misses: number;
  /**
   * Hot pages compared with the newest checkpoint: all of them, or in
   * stop-and-copy, where nearly all were written, a sample (1 in 16; the
   * others are copied as they are, and truePositives is estimated from it).
   */
  hotCompared: number;
  /** Time the guest lost to faults: measured in cow mode, misses x the configured fault cost otherwise. */
  faultNsEstimate: number;
  /** Write faults taken: copy-on-write faults served (cow), or dirty-log faults (the misses). */
  faults: number;
  /**
   * The least that tracking this epoch's writes could have cost, in faults
   * and comparisons of hot pages, whatever the prediction: each page written
   * again g epochs after its last write either stayed hot and was compared
   * g - 1 times, or faulted (first writes left out: a page never touched
   * faults without checkpoints too). Known in stop-and-copy with the cost
   * predictor (which follows the pages' ages up to 16 epochs); 0 otherwise.
   */
  leastTrackingNs: number;
  /** Pages write-protected in this pause (cow). */
  pagesProtected: number;
  /** Of dirtyPages, copied ahead while the guest ran and not written again (not copied in the pause). */
  pagesPrecopied: number;
  /** Time spent copying ahead, on the epoch thread while the guest ran. */
  precopyNs: number;
  /** truePositives / predicted, or null without prediction. */
  precision: number | null;
  /** truePositives / pages written, or null when nothing was predicted or written. */
  recall: number | null;
  /** The mode in effect. */
  mode: CheckpointMode;
  /** Why 'cow' was asked for and is not in effect; null otherwise. */
  fallbackReason: string | null;
  /** Records dropped before this one because JavaScript was behind. */
  coalesced: number;
}

/** What a page costs on this host, in ns: calibrated at start, refreshed from every epoch. */
export interface CheckpointCosts {
  copyNs: number;
  copyNsCalibrated: number;
  /** A dirty-log write-protection fault, as the cost model takes it: faultNs, or else the calibrated cost. */
  dirtyLogFaultNs: number;
  /**
   * Measured once per process by a probe guest in a scratch VM (the guest
   * pays the fault inside KVM_RUN, where the VMM cannot time it, so it is not
   * refreshed while running); 0 where the probe could not run.
   */
  dirtyLogFaultNsCalibrated: number;
  /** A copy-on-write fault: the kernel's round trip (measured at start) plus the handler (measured per epoch). */
  cowFaultNs: number;
  /** Measured at start on a scratch mapping (0 when copy-on-write was not started). */
  cowFaultNsCalibrated: number;
}

export interface CheckpointInfo {
  seq: number;
  /** Unix time in ms when it was taken. */
  time: number;
  ageMs: number;
  pages: number;
  bytes: number;
  /** False once a stored page of it failed its checksum. */
  verified: boolean;
}

export interface RollbackResult {
  seq: number;
  pagesRestored: number;
  checkpointsDropped: number;
  durationNs: number;
}

export interface CheckpointStats {
  enabled: boolean;
  /** The mode in effect. */
  mode: CheckpointMode;
  requestedMode: CheckpointMode;
  /** Why the requested 'cow' is not in effect; null otherwise. */
  fallbackReason: string | null;
  intervalMs: number;
  retention: number;
  copyThreads: number;
  /** Copying ahead is in effect (asked for, stop-and-copy's dirty bitmap). */
  precopy: boolean;
  predictor: PredictorName;
  /** How the hypervisor tracks writes, as its backend names it. */
  dirtyTracking: string;
  epochs: number;
  skippedEpochs: number;
  /** Epochs whose checkpoint was put off to the next: the guest was mid-exchange with the host (see the backend). */
  deferredEpochs: number;
  rollbacks: number;
  storeBytes: number;
  storeBoundBytes: number;
  shadowPages: number;
  coalescedEpochs: number;
  lastError: string | null;
  /** Copy-on-write faults served, all epochs. */
  faults: number;
  costs: CheckpointCosts;
}
