// Dirty-page prediction: which pages to treat as hot in the next epoch.
// A hot page is left writable (no write-protection fault) and examined at
// every checkpoint instead: a copy is cheaper than a fault whenever the
// page is likely enough to be written again (platform.md: a fault costs
// several copies on PVM hosts).
//
// Correctness never depends on a prediction: every page that is not
// protected is compared with its stored copy at each checkpoint, so no
// write can be missed, only paid for differently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bitmap.h"

namespace uckpt::core {

// What writes cost on this host, in nanoseconds per page.
struct PageCosts {
  double hot_ns = 500;     // a hot page at a checkpoint that finds it unwritten
  double fault_ns = 3000;  // a write-protection fault on a cold page
  // A protected page can be made writable ahead of its next write
  // (copy-on-write); the dirty log can only protect.
  bool can_unprotect = false;
};

class Predictor {
 public:
  virtual ~Predictor() = default;
  virtual const char* name() const = 0;
  // The pages written in the epoch that just ended (faulted or found
  // changed), and the share of that epoch the guest ran rather than waited
  // on write-protection faults (0 < progress <= 1).
  virtual void observe(const Bitmap& written, double progress) = 0;
  // The pages to leave writable in the next epoch.
  virtual void predict(Bitmap& hot, const PageCosts& costs) = 0;
  // Removes from `written`, pages written so far in the epoch under way,
  // those that would be hot after it: copying such a page ahead of the
  // checkpoint protects it again, and a protected page cannot be hot.
  virtual void drop_hot_if_written(Bitmap& written, const PageCosts& costs) const = 0;
  // Of the pages written in the epoch last observed: at [0] how many for the
  // first time since the predictor started, at [g] how many had last been
  // written g epochs before, and at [size() - 1] longer ago than that; empty
  // where the predictor does not follow the pages' ages.
  virtual std::span<const uint64_t> rewrite_gaps() const { return {}; }
};

// Hot when written in at least m of the last n epochs (n <= 16).
std::unique_ptr<Predictor> make_history_predictor(uint64_t pages, unsigned m, unsigned n);
// For sequential writers: each run of written pages predicts the run of the
// same length right after it (the frontier moves on), and stays hot itself.
std::unique_ptr<Predictor> make_frontier_predictor(uint64_t pages);
// Hot when a fault is expected to cost more than keeping the page hot
// until its next write, with the chance of a write measured per page age
// on the running guest; plus the pages ahead of the frontier.
std::unique_ptr<Predictor> make_cost_predictor(uint64_t pages);

// "history", "frontier", "cost"; throws std::invalid_argument otherwise.
std::unique_ptr<Predictor> make_predictor(const std::string& name, uint64_t pages);

}  // namespace uckpt::core
