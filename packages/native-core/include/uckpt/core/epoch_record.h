// What the epoch loop reports: one record per epoch, running totals, and
// the outcome of a rollback. Apart from the loop because they are what
// crosses to JavaScript (napi/) and what the tests read, and neither needs
// the loop's threads and locks to do so.
#pragma once

#include <cstdint>
#include <string>

#include "checkpoint_config.h"
#include "checkpoint_ring.h"
#include "cost_model.h"

namespace uckpt::core {

struct EpochRecord {
  uint64_t seq;             // the checkpoint this epoch produced
  uint64_t start_ns;        // CLOCK_MONOTONIC at the pause
  uint64_t late_ns;         // how long after it was due the pause began (the epoch thread was busy, e.g. backing store frames)
  uint64_t wall_ms;
  uint64_t dirty_pages;
  uint64_t pages_copied;
  uint64_t pause_ns;        // guest stopped, from pause request to resume
  uint64_t harvest_ns;      // reading the dirty log (and comparing the hot pages)
  uint64_t copy_ns;         // copying (stop-and-copy: with the re-arm beside it)
  uint64_t rearm_ns;        // re-protecting the dirty pages (stop-and-copy: and predicting, within copy_ns)
  uint64_t store_bytes;
  uint32_t retained;
  uint64_t retired;         // checkpoints retired this epoch (retention or memory bound)
  // Prediction: hot pages were left writable during the epoch and examined now.
  uint64_t predicted;        // hot pages
  uint64_t true_positives;   // hot pages that were written (estimated from the sample when hot_compared < predicted)
  uint64_t hot_compared;     // hot pages compared: all, or a sample where nearly all were written (the rest copied as they are)
  uint64_t false_positives;  // hot pages that were not
  uint64_t misses;           // written pages that were not hot: each took a write-protection fault
  uint64_t fault_ns_estimate;  // time the guest lost to faults: measured for copy-on-write, misses x the fault cost otherwise
  // The least that tracking this epoch's writes could have cost under the
  // dirty log, in faults and comparisons, whatever was predicted: known in
  // stop-and-copy with the cost predictor, which follows pages' ages; else 0.
  uint64_t least_tracking_ns;
  Mode mode;                   // the mode in effect
  std::string fallback_reason; // why copy-on-write was asked for and is not in effect; empty otherwise
  uint64_t faults;             // write faults taken: copy-on-write faults served, or dirty-log faults (misses)
  uint64_t pages_protected;    // pages write-protected in this pause (copy-on-write)
  uint64_t pages_precopied;    // of dirty_pages, copied ahead while the guest ran and not written again
  uint64_t precopy_ns;         // time spent copying ahead (not in the pause)
};

struct Totals {
  uint64_t epochs = 0;
  uint64_t skipped_epochs = 0;  // the guest was not running
  uint64_t deferred_epochs = 0; // put off to the next: the backend was not consistent (see Backend)
  uint64_t rollbacks = 0;
  uint64_t store_bytes = 0;
  uint64_t store_bound = 0;
  uint64_t shadow_pages = 0;
  std::string last_error;
  Mode mode = Mode::StopAndCopy;  // in effect
  std::string fallback_reason;    // see EpochRecord
  uint64_t faults = 0;            // copy-on-write faults served, all epochs
  CostEstimates costs{};
};

struct RollbackOutcome {
  RollbackResult result;
  uint64_t duration_ns;  // guest stopped
  bool revived;          // the guest had ended (crashed) and runs again
};

}  // namespace uckpt::core
