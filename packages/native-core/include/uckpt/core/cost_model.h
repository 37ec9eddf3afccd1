// What a page costs on this host, for the dirty-page predictor: copying it,
// comparing it with its stored copy, and the write fault it takes while
// protected, under the hypervisor's dirty log (stop-and-copy) or with
// copy-on-write. Calibrated when checkpointing starts and refreshed from
// every epoch's measurements (exponentially weighted).
//
// Apart from the epoch loop because what a measurement means is not the
// loop's business: the loop measures where it must (in the pause, in the
// fault handler), this turns the measurements into prices. Used on the
// epoch loop's thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "backend.h"
#include "checkpoint_config.h"
#include "predictor.h"

namespace uckpt::core {

// The estimates as reported (stats), in nanoseconds per page or per fault.
struct CostEstimates {
  double copy_ns;             // copying one page (with its checksum)
  double copy_ns_calibrated;  // the same, measured at start
  // A write fault under the hypervisor's dirty log: the guest pays it inside
  // the hypervisor, where the core cannot time it, so it is not refreshed.
  double dirty_log_fault_ns;
  double dirty_log_fault_ns_calibrated;  // the same, measured at start by the backend (0: not measured)
  double cow_fault_ns;        // a copy-on-write fault: kernel round trip + handler
  double cow_fault_ns_calibrated;  // the same, measured at start on a scratch mapping (0: not measured)
};

class CostModel {
 public:
  // Measures the copy cost (well under a millisecond); the dirty-log fault
  // cost is the config's, which the backend measured if it could.
  CostModel(Backend& backend, const CheckpointConfig& config);

  // The mode now in effect: which fault a protected page takes, and whether
  // a hot page is copied as well as compared. Copy-on-write takes its fault
  // cost from the backend's probe, measured when write protection started.
  void use_mode(Mode mode);
  // A checkpoint compared `pages` hot pages in `cpu_ns` of CPU time, summed
  // over its `threads`. The page costs follow at the next refresh().
  void compared(uint64_t pages, uint64_t cpu_ns, unsigned threads);
  // After a pause that copied `copied` pages in `copy_ns`; with copy-on-write,
  // the epoch before it took `faults`, whose handler took `fault_service_ns`
  // in all. Refreshes the page costs the predictor uses.
  void refresh(uint64_t copied, uint64_t copy_ns, uint64_t faults, uint64_t fault_service_ns);
  // The guest runs again after a pause that ended at `resumed_ns`.
  void resumed(uint64_t resumed_ns);

  const CostEstimates& estimates() const { return estimates_; }
  // Comparing one hot page at a checkpoint.
  double compare_ns() const { return compare_ns_; }
  // The predictor's prices for the mode in effect, as of the last refresh.
  const PageCosts& page_costs() const { return page_costs_; }
  // The least that tracking the writes of the epoch a predictor last
  // observed could have cost (see EpochRecord::least_tracking_ns), from the
  // pages' rewrite gaps (Predictor::rewrite_gaps()).
  uint64_t least_tracking_ns(std::span<const uint64_t> rewrite_gaps) const;
  // The share of the time the guest ran between the last pause and one at
  // `paused_ns` that it did not spend in write faults (`fault_ns` of them):
  // what the predictor learns a fault's weight from.
  double guest_progress(uint64_t paused_ns, uint64_t fault_ns) const;

 private:
  void update_page_costs();

  Backend& backend_;
  Mode mode_ = Mode::StopAndCopy;
  CostEstimates estimates_{};
  double compare_ns_;  // exponentially weighted
  PageCosts page_costs_;
  uint64_t resumed_ns_ = 0;                      // when the last pause ended
  std::optional<uint64_t> guest_cpu_at_resume_;  // the backend's guest_cpu_ns() then
};

}  // namespace uckpt::core
