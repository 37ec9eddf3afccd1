// Dirty-page prediction as the epoch loop applies it: which pages are hot
// in the epoch under way (left writable: they take no fault, and are
// compared with the newest checkpoint at the next one instead), the
// predictor that picks the next epoch's, and that comparison, which also
// measures how good the prediction was (precision, recall).
//
// Apart from the epoch loop because the loop decides when (in every pause,
// in either mode) and this what: which pages, and what the predictor
// learns from them. Used on the epoch loop's thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bitmap.h"
#include "checkpoint_ring.h"
#include "cost_model.h"
#include "epoch_record.h"
#include "predictor.h"

namespace uckpt::core {

class HotPages {
 public:
  explicit HotPages(uint64_t pages);

  // "off" or a predictor's name (see make_predictor()); a new predictor
  // has learnt nothing yet.
  void use_predictor(const std::string& name);
  // Forgets what the predictor learnt: checkpointing starts over.
  void restart_predictor();
  const std::string& predictor_name() const { return predictor_name_; }
  Predictor* predictor() const { return predictor_.get(); }  // null when off

  // The pages hot in the epoch under way.
  const Bitmap& hot() const { return hot_; }
  // Those of the next epoch: `next`, which may be hot() itself.
  void set_hot(const Bitmap& next) {
    if (&next != &hot_) hot_ = next;
  }
  void clear() { hot_.clear(); }
  // Where the next epoch's hot pages are chosen, sized once so that a pause
  // allocates nothing.
  Bitmap& next() { return next_; }

  // At a checkpoint: which hot pages were written, into changed(), by
  // comparing them with the newest checkpoint in `ring` on its copy
  // threads (`threads` of them), whose CPU time prices a comparison in
  // `costs`. `may_sample`: where nearly every hot page was written, a sample
  // may stand for them all.
  void find_changed(CheckpointRing& ring, CostModel& costs, bool may_sample, unsigned threads);
  const Bitmap& changed() const { return changed_; }
  // The prediction's part of the record of the epoch whose hot pages were
  // just compared.
  void report(EpochRecord& r) const;

 private:
  const uint64_t pages_;
  std::unique_ptr<Predictor> predictor_;
  std::string predictor_name_ = "off";
  Bitmap hot_;
  Bitmap changed_;  // of hot_, those found written at the last checkpoint
  Bitmap next_;
  CheckpointRing::Compared compared_{};  // the hot pages compared at the last checkpoint
  uint64_t sample_offset_ = 0;  // which share of the hot pages the next sample compares
};

}  // namespace uckpt::core
