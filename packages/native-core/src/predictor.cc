#include "uckpt/core/predictor.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace uckpt::core {
namespace {

// Per-page state that is zero for most pages: only the pages with some
// state are visited, so an epoch costs what was written recently, not the
// size of the guest (a 1 GiB guest has 262,144 pages).
template <typename State>
class SparsePages {
 public:
  explicit SparsePages(uint64_t pages) : state_(pages, 0) {}

  // Calls update(state&, written) for every page written now or with state,
  // and forgets those whose state is back to zero.
  template <typename Update>
  void observe(const Bitmap& written, Update&& update) {
    written.for_each([&](uint64_t p) {
      if (state_[p] == 0) live_.push_back(p);
    });
    size_t kept = 0;
    for (uint64_t p : live_) {
      update(state_[p], written.test(p));
      if (state_[p] != 0) live_[kept++] = p;
    }
    live_.resize(kept);
  }
  State at(uint64_t p) const { return state_[p]; }
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (uint64_t p : live_) fn(p, state_[p]);
  }

 private:
  std::vector<State> state_;
  std::vector<uint64_t> live_;  // the pages whose state is not zero
};

class HistoryPredictor : public Predictor {
 public:
  HistoryPredictor(uint64_t pages, unsigned m, unsigned n) : history_(pages), m_(m), mask_((1u << n) - 1) {}
  const char* name() const override { return "history"; }

  void observe(const Bitmap& written, double) override {
    history_.observe(written, [&](uint16_t& h, bool w) { h = static_cast<uint16_t>(((h << 1) | w) & mask_); });
  }
  void predict(Bitmap& hot, const PageCosts&) override {
    history_.for_each([&](uint64_t p, uint16_t h) {
      if (hot_with(h)) hot.set(p);
    });
  }
  void drop_hot_if_written(Bitmap& written, const PageCosts&) const override {
    written.for_each([&](uint64_t p) {
      if (hot_with(static_cast<uint16_t>(((history_.at(p) << 1) | 1) & mask_))) written.reset(p);
    });
  }

 private:
  bool hot_with(uint16_t history) const { return static_cast<unsigned>(__builtin_popcount(history)) >= m_; }

  SparsePages<uint16_t> history_;  // bit i: written i epochs ago
  unsigned m_;
  uint32_t mask_;
};

// The run of the same length after each run of consecutive written pages,
// and with `with_runs` the runs themselves.
void frontier_of(const Bitmap& written, Bitmap& hot, bool with_runs) {
  uint64_t run_start = 0, run_length = 0, previous = UINT64_MAX - 1;
  auto close_run = [&] {
    const uint64_t from = with_runs ? run_start : run_start + run_length;
    for (uint64_t p = from; p < run_start + 2 * run_length && p < hot.size(); p++) hot.set(p);
  };
  written.for_each([&](uint64_t p) {
    if (p == previous + 1) {
      run_length++;
    } else {
      if (run_length) close_run();
      run_start = p;
      run_length = 1;
    }
    previous = p;
  });
  if (run_length) close_run();
}

class FrontierPredictor : public Predictor {
 public:
  explicit FrontierPredictor(uint64_t pages) : last_(pages) {}
  const char* name() const override { return "frontier"; }
  void observe(const Bitmap& written, double) override { last_ = written; }
  void predict(Bitmap& hot, const PageCosts&) override { frontier_of(last_, hot, true); }
  // Every written run stays hot.
  void drop_hot_if_written(Bitmap& written, const PageCosts&) const override { written.clear(); }

 private:
  Bitmap last_;
};

// Pages are known by age, the epochs since their last write (1: written
// in the epoch that just ended), up to kHorizon. For each age, how often
// such pages were written in the next epoch (the hazard) is measured on
// the running guest, whatever the pages' protection; the counts decay, so
// the estimates follow the guest's phases.
//
// The hazard is per epoch of the guest running freely, which is what hot
// pages give it. An epoch that the guest spent mostly in faults shows only
// a fraction of its writes: left as measured, a guest slowed by faults
// writes few pages an epoch, protecting them looks right, and it stays
// slow (a table rewritten every epoch ran 12x slower so). Such an epoch's
// hazards are scaled up to a whole epoch of progress instead.
class CostPredictor : public Predictor {
 public:
  explicit CostPredictor(uint64_t pages) : age_(pages), last_(pages), ever_written_(pages) {}
  const char* name() const override { return "cost"; }

  void observe(const Bitmap& written, double progress) override {
    // This epoch's pages of each age, and (gaps_) those of them written.
    uint64_t seen[kHorizon + 1] = {};
    std::fill(std::begin(gaps_), std::end(gaps_), 0);
    age_.observe(written, [&](uint8_t& age, bool w) {
      seen[age]++;
      gaps_[age] += w;
      age = w ? 1 : age == kHorizon ? 0 : static_cast<uint8_t>(age + 1);
    });
    // Unwritten in this much progress: unwritten in a whole epoch's with
    // that chance to the power 1 / progress.
    const double epochs_of_progress = 1 / std::max(progress, kLeastProgress);
    for (int a = 1; a <= kHorizon; a++) {
      const double hazard = seen[a] > 0 ? 1 - std::pow(1 - double(gaps_[a]) / double(seen[a]), epochs_of_progress) : 0;
      seen_[a] = kDecay * seen_[a] + double(seen[a]);
      hits_[a] = kDecay * hits_[a] + double(seen[a]) * hazard;
    }
    // Of the pages written with no age, those written before were last
    // written longer ago than the horizon.
    uint64_t first = 0;
    written.for_each([&](uint64_t p) { first += !ever_written_.test(p); });
    gaps_[kHorizon + 1] = gaps_[0] - first;
    gaps_[0] = first;
    ever_written_ |= written;
    last_ = written;
  }

  std::span<const uint64_t> rewrite_gaps() const override { return gaps_; }

  // Where a protected page can be made writable again before a write
  // (copy-on-write), each epoch is decided alone: hot when P(written next)
  // x fault > hot cost. The dirty log can only protect: a protected page
  // pays a fault at its next write, however far, so a page stays hot while
  // the hot epochs expected until that write cost less than the fault.
  // That keeps pages rewritten every few epochs (a merge sort's passes)
  // hot between writes, and lets scattered writes go.
  void predict(Bitmap& hot, const PageCosts& costs) override {
    bool hot_at[kHorizon + 1];
    hot_ages(costs, hot_at);
    age_.for_each([&](uint64_t p, uint8_t age) {
      if (hot_at[age]) hot.set(p);
    });
    frontier_of(last_, hot, false);  // the written runs are hot by their age
  }
  // A page written now is of age 1 at the checkpoint.
  void drop_hot_if_written(Bitmap& written, const PageCosts& costs) const override {
    bool hot_at[kHorizon + 1];
    hot_ages(costs, hot_at);
    if (hot_at[1]) written.clear();
  }

 private:
  void hot_ages(const PageCosts& costs, bool* hot_at) const {  // kHorizon + 1 entries
    double hazard[kHorizon + 1];
    for (int a = 1; a <= kHorizon; a++) {
      // An age seen little is taken to be like the age before: pages not
      // written again so far are not expected to be later.
      const double prior = a == 1 ? 0.25 : hazard[a - 1];
      hazard[a] = (hits_[a] + kPriorWeight * prior) / (seen_[a] + kPriorWeight);
    }
    hot_at[0] = false;
    if (costs.can_unprotect) {
      for (int a = 1; a <= kHorizon; a++) hot_at[a] = hazard[a] * costs.fault_ns > costs.hot_ns;
    } else {
      double later = 0;      // expected cost from the next age on, deciding each age well
      double unwritten = 1;  // P(no write from this age up to the horizon)
      for (int a = kHorizon; a >= 1; a--) {
        unwritten *= 1 - hazard[a];
        const double protect = costs.fault_ns * (1 - unwritten);
        const double keep = costs.hot_ns + (1 - hazard[a]) * later;
        hot_at[a] = keep < protect;
        later = std::min(keep, protect);
      }
    }
  }

  // Long enough for the pages that can pay to stay hot: under the dirty
  // log a page kept until a write g epochs later costs g - 1 comparisons
  // (0.1-0.3 us here) against a fault (2.2 us). At 8, the pages of a merge
  // sort slowed by faults came back after 9-10 epochs: kept hot through
  // age 8, then protected, they paid both (the run took twice as long).
  static constexpr int kHorizon = 16;
  static constexpr double kDecay = 0.7;
  static constexpr double kPriorWeight = 8;  // pages' worth of belief in the prior
  static constexpr double kLeastProgress = 0.05;

  SparsePages<uint8_t> age_;
  double seen_[kHorizon + 1] = {}, hits_[kHorizon + 1] = {};
  Bitmap last_;
  Bitmap ever_written_;                // since the predictor started
  uint64_t gaps_[kHorizon + 2] = {};  // see rewrite_gaps()
};

}  // namespace

std::unique_ptr<Predictor> make_history_predictor(uint64_t pages, unsigned m, unsigned n) {
  if (n < 1 || n > 16 || m < 1 || m > n) throw std::invalid_argument("history predictor needs 1 <= m <= n <= 16");
  return std::make_unique<HistoryPredictor>(pages, m, n);
}

std::unique_ptr<Predictor> make_frontier_predictor(uint64_t pages) { return std::make_unique<FrontierPredictor>(pages); }

std::unique_ptr<Predictor> make_cost_predictor(uint64_t pages) { return std::make_unique<CostPredictor>(pages); }

std::unique_ptr<Predictor> make_predictor(const std::string& name, uint64_t pages) {
  if (name == "history") return make_history_predictor(pages, 2, 4);
  if (name == "frontier") return make_frontier_predictor(pages);
  if (name == "cost") return make_cost_predictor(pages);
  throw std::invalid_argument("predictor must be \"history\", \"frontier\" or \"cost\", got \"" + name + "\"");
}

}  // namespace uckpt::core
