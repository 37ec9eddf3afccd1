#include "uckpt/core/predictor.h"

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

  void observe(const Bitmap& written) override {
    history_.observe(written, [&](uint16_t& h, bool w) { h = static_cast<uint16_t>(((h << 1) | w) & mask_); });
  }
  void predict(Bitmap& hot, const PageCosts&) override {
    history_.for_each([&](uint64_t p, uint16_t h) {
      if (static_cast<unsigned>(__builtin_popcount(h)) >= m_) hot.set(p);
    });
  }

 private:
  SparsePages<uint16_t> history_;  // bit i: written i epochs ago
  unsigned m_;
  uint32_t mask_;
};

// Runs of consecutive written pages, and the same length after each.
void frontier_of(const Bitmap& written, Bitmap& hot) {
  uint64_t run_start = 0, run_length = 0, previous = UINT64_MAX - 1;
  auto close_run = [&] {
    for (uint64_t p = run_start; p < run_start + 2 * run_length && p < hot.size(); p++) hot.set(p);
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
  void observe(const Bitmap& written) override { last_ = written; }
  void predict(Bitmap& hot, const PageCosts&) override { frontier_of(last_, hot); }

 private:
  Bitmap last_;
};

class CostPredictor : public Predictor {
 public:
  explicit CostPredictor(uint64_t pages) : probability_(pages), last_(pages) {}
  const char* name() const override { return "cost"; }

  // p <- p + (written - p) / 4, in 1/256ths: four epochs of memory. Each
  // step moves at least one unit, or a page written once would stay at
  // 1..3 for ever and, where a fault costs 100 copies (copy-on-write), hot.
  void observe(const Bitmap& written) override {
    probability_.observe(written, [](uint16_t& p, bool w) {
      const int current = p, target = w ? 256 : 0;
      if (current == target) return;
      int step = (target - current) / 4;
      if (step == 0) step = target > current ? 1 : -1;
      p = static_cast<uint16_t>(current + step);
    });
    last_ = written;
  }
  void predict(Bitmap& hot, const PageCosts& costs) override {
    // Hot when p * fault > copy, i.e. p > copy / fault.
    const double threshold = 256.0 * costs.copy_ns / costs.fault_ns;
    probability_.for_each([&](uint64_t p, uint16_t probability) {
      if (probability > threshold) hot.set(p);
    });
    frontier_of(last_, hot);
  }

 private:
  SparsePages<uint16_t> probability_;
  Bitmap last_;
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
