#include "uckpt/core/cost_model.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "uckpt/core/clock.h"

namespace uckpt::core {
namespace {

// The fewest pages a pause must copy, or compare, to refresh the estimate
// of what one page costs: below that the pass is mostly its fixed part
// (waking the copy threads, a re-arm beside it) and reads as many times the
// cost of a page. An inflated compare cost is worse than a wrong number: the
// cost model keeps fewer pages hot, the next pass is smaller and reads
// dearer still, until nothing stays hot and every write faults (hashtable
// at full size ran 12x slower so).
constexpr uint64_t kPagesToTell = 512;

// Copying a page in the pause (its checksum comes later), scattered as a
// checkpoint's pages are: the best of a few rounds over a buffer larger
// than the caches keep.
double calibrate_copy_ns() {
  constexpr size_t kPages = 256, kStride = 7;
  std::vector<uint8_t> from(kPages * kStride * kPageSize, 1), to(kPages * kPageSize);
  double best = 1e9;
  for (int round = 0; round < 3; round++) {
    const uint64_t start = now_ns();
    for (size_t i = 0; i < kPages; i++) {
      std::memcpy(&to[i * kPageSize], &from[((i * kStride) % (kPages * kStride)) * kPageSize], kPageSize);
    }
    asm volatile("" : : "r"(to.data()) : "memory");  // the copies are used
    best = std::min(best, double(now_ns() - start) / kPages);
  }
  return best;
}

}  // namespace

CostModel::CostModel(Backend& backend, const CheckpointConfig& config) : backend_(backend) {
  estimates_.copy_ns = estimates_.copy_ns_calibrated = calibrate_copy_ns();
  estimates_.dirty_log_fault_ns = config.dirty_log_fault_ns;
  estimates_.dirty_log_fault_ns_calibrated = config.dirty_log_fault_ns_calibrated;
  compare_ns_ = estimates_.copy_ns;  // until a pause measures it: it reads two pages where a copy reads one
}

void CostModel::use_mode(Mode mode) {
  mode_ = mode;
  if (mode_ == Mode::CopyOnWrite) {
    const double measured = backend_.write_fault_probe_ns();
    estimates_.cow_fault_ns_calibrated = measured;
    estimates_.cow_fault_ns = measured > 0 ? measured : 70000;  // platform.md's order of magnitude
  }
  update_page_costs();
}

// Read from the comparing threads' CPU time, shared between them, not
// from the clock: where other work competes for the CPUs, the clock
// stretches a pause as it stretches the guest's faults, and only the
// pause's reading would show it (the fault cost is measured alone).
void CostModel::compared(uint64_t pages, uint64_t cpu_ns, unsigned threads) {
  if (pages < kPagesToTell) return;
  const double per_page = double(cpu_ns) / threads / double(pages);
  compare_ns_ = 0.8 * compare_ns_ + 0.2 * per_page;
}

// Exponentially weighted: the copy cost from this pause, the copy-on-write
// fault cost from the faults served this epoch. Only a pause that copied
// many pages tells the copy cost: in a short copy phase its fixed part and
// the work beside it (predicting, re-arming) outweigh the copies, and after
// copying ahead a pause copies only the last few pages written.
void CostModel::refresh(uint64_t copied, uint64_t copy_ns, uint64_t faults, uint64_t fault_service_ns) {
  if (copied >= kPagesToTell) {
    estimates_.copy_ns = 0.8 * estimates_.copy_ns + 0.2 * double(copy_ns) / double(copied);
  }
  if (mode_ == Mode::CopyOnWrite && faults >= 4) {
    const double per_fault = backend_.write_fault_overhead_ns() + double(fault_service_ns) / double(faults);
    estimates_.cow_fault_ns = 0.8 * estimates_.cow_fault_ns + 0.2 * per_fault;
  }
  update_page_costs();
}

// What a hot page that turns out unwritten costs at a checkpoint: its
// comparison, and with copy-on-write its copy into the open log.
void CostModel::update_page_costs() {
  const bool cow = mode_ == Mode::CopyOnWrite;
  page_costs_.hot_ns = cow ? estimates_.copy_ns + compare_ns_ : compare_ns_;
  page_costs_.fault_ns = cow ? estimates_.cow_fault_ns : estimates_.dirty_log_fault_ns;
  page_costs_.can_unprotect = cow;
}

void CostModel::resumed(uint64_t resumed_ns) {
  resumed_ns_ = resumed_ns;
  guest_cpu_at_resume_ = backend_.guest_cpu_ns();
}

// A page written again g epochs after its last write was either kept hot
// since, and compared unwritten at the g - 1 checkpoints between, or
// protected, and faulted on; one last written longer ago counts as if just
// beyond the gaps followed, which is never dearer. A first write is left
// out: a page never touched faults without checkpoints too (and a page the
// guest wrote before the predictor started, counted so, makes this lower).
uint64_t CostModel::least_tracking_ns(std::span<const uint64_t> rewrite_gaps) const {
  double least = 0;
  for (size_t gap = 1; gap < rewrite_gaps.size(); gap++) {
    least += double(rewrite_gaps[gap]) * std::min(page_costs_.fault_ns, double(gap - 1) * page_costs_.hot_ns);
  }
  return static_cast<uint64_t>(least);
}

// Of its vCPUs' CPU time where the backend knows it, else of the
// wall-clock time of one vCPU.
double CostModel::guest_progress(uint64_t paused_ns, uint64_t fault_ns) const {
  if (resumed_ns_ == 0 || paused_ns <= resumed_ns_) return 1;  // nothing ran that could be measured
  const std::optional<uint64_t> cpu_ns = backend_.guest_cpu_ns();
  double ran_ns = double(paused_ns - resumed_ns_);
  if (cpu_ns && guest_cpu_at_resume_ && *cpu_ns >= *guest_cpu_at_resume_) ran_ns = double(*cpu_ns - *guest_cpu_at_resume_);
  if (ran_ns <= 0) return 1;
  return std::clamp(1 - double(fault_ns) / ran_ns, 0.0, 1.0);
}

}  // namespace uckpt::core
