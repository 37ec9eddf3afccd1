#include "uckpt/core/hot_pages.h"

namespace uckpt::core {

HotPages::HotPages(uint64_t pages) : pages_(pages), hot_(pages), changed_(pages), next_(pages) {}

void HotPages::use_predictor(const std::string& name) {
  predictor_ = name == "off" ? nullptr : make_predictor(name, pages_);
  predictor_name_ = name;
}

void HotPages::restart_predictor() {
  if (predictor_) use_predictor(predictor_name_);
}

// Timed, for the cost model. Where nearly every hot page was written last
// time, comparing them all costs more than copying the few that were not:
// then a sample is compared (every 16th hot page, a different share each
// epoch), which keeps the precision measured, and the others are copied as
// they are, which is never wrong. Only above 90 %: an unwritten page that
// is not compared counts as written and stays hot, so the predictor learns
// of it only from the sample.
void HotPages::find_changed(CheckpointRing& ring, CostModel& costs, bool may_sample, unsigned threads) {
  constexpr uint64_t kSampleStride = 16, kSmallestSample = 64;
  constexpr double kSampleAbovePrecision = 0.9;
  const double precision = compared_.precision();  // at the last checkpoint
  changed_.clear();
  compared_ = {};
  const uint64_t hot = hot_.count();
  if (hot == 0) return;
  const bool sample = may_sample && hot >= kSampleStride * kSmallestSample && precision >= kSampleAbovePrecision &&
                      costs.compare_ns() > (1 - precision) * costs.estimates().copy_ns;
  compared_ = ring.find_changed(hot_, changed_, sample ? kSampleStride : 1, sample_offset_++);
  if (!sample) costs.compared(compared_.pages, compared_.cpu_ns, threads);
}

void HotPages::report(EpochRecord& r) const {
  r.predicted = hot_.count();
  r.hot_compared = compared_.pages;
  r.true_positives = compared_.changed_of(r.predicted);
  r.false_positives = r.predicted - r.true_positives;
}

}  // namespace uckpt::core
