// The epoch loop: a native thread that, every interval, pauses the guest,
// harvests and copies what changed, re-arms tracking and resumes it. It
// takes requests (checkpoint now, roll back, reconfigure) as messages and
// reports one record per epoch through a callback that must never block.
// It decides when; what is a job of its own it hands to CowFaultServer
// (copy-on-write faults, on their own thread), HotPages (prediction) and
// CostModel (what pages and faults cost).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "backend.h"
#include "checkpoint_config.h"
#include "checkpoint_ring.h"
#include "copy_pool.h"
#include "cost_model.h"
#include "cow_fault_server.h"
#include "epoch_record.h"
#include "hot_pages.h"

namespace uckpt::core {

class Checkpointer {
 public:
  using EpochSink = std::function<void(const EpochRecord&)>;
  using ErrorSink = std::function<void(const std::string&)>;

  // Validates the config; throws std::invalid_argument naming what is wrong.
  Checkpointer(Backend& backend, const CheckpointConfig& config, EpochSink on_epoch, ErrorSink on_error);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  // Ends the loop; pending and later requests fail. Safe to call twice.
  void stop();
  Checkpointer& operator=(const Checkpointer&) = delete;

  // What configure() may change while checkpointing runs; what is empty
  // stays as it is.
  struct Change {
    std::optional<uint32_t> interval_ms = {};
    std::optional<uint32_t> retention = {};
    std::optional<bool> enabled = {};
    std::optional<std::string> predictor = {};
    std::optional<Mode> mode = {};
    std::optional<bool> precopy = {};
  };
  // Enabling takes a first checkpoint; disabling drops them all. A change of
  // mode starts over: every checkpoint is dropped and a first one taken in
  // the new mode.
  void configure(const Change& change);
  CheckpointConfig config() const;

  // Block the caller (never the loop) until the loop has done it.
  uint64_t checkpoint_now();
  RollbackOutcome rollback(std::optional<uint64_t> seq);
  void corrupt_for_test(uint64_t seq, uint64_t pfn);

  std::vector<CheckpointInfo> list() const;
  Totals totals() const;

 private:
  struct CheckpointNow {};
  struct Rollback {
    std::optional<uint64_t> seq;
  };
  struct Corrupt {
    uint64_t seq, pfn;
  };
  using Request = std::variant<CheckpointNow, Rollback, Corrupt>;
  using Reply = std::variant<uint64_t, RollbackOutcome>;
  struct Pending {
    Request request;
    std::promise<Reply> reply;
  };

  Reply submit(Request request);
  void loop();
  Reply serve(const Request& request);
  // One checkpoint; `requested` ones are taken also while the operator has
  // the guest paused; timed ones began `late_ns` after they were due.
  // Returns false when it was deferred (the backend stayed inconsistent).
  bool epoch(bool requested, uint64_t late_ns = 0);
  void apply_enabled(bool enabled);
  bool must_revive();  // paused; throws RollbackRefused
  void settle_store();
  void publish();
  void fail(const std::string& message);
  void use_mode(Mode requested);  // falls back to stop-and-copy when it must
  // Returns the time the fault handler spent on this epoch's faults.
  uint64_t epoch_cow(EpochRecord& r);
  void epoch_stop_and_copy(EpochRecord& r);
  void precopy();  // copies ahead, while the guest runs
  // Opens the next epoch: `next_hot` pages writable (copied already), every
  // other page write-protected, the dirty log re-armed for `logged_written`
  // (the pages it showed written).
  void open_epoch_cow(const Bitmap& next_hot, const Bitmap& logged_written, EpochRecord* r);
  // Harvests what changed since the newest checkpoint into dirty_: the
  // dirty log for protected pages, a comparison for hot ones.
  void collect_written();
  void find_hot_changed();  // see HotPages::find_changed()
  // Re-protects what was writable and is not hot next.
  void rearm_after(const Bitmap& next_hot);  // then next_hot is hot

  Backend& backend_;
  EpochSink on_epoch_;
  ErrorSink on_error_;
  CopyPool copiers_;
  CheckpointRing ring_;
  Bitmap dirty_;
  Bitmap carry_;  // harvested but not yet consumed: never dropped
  Bitmap writable_;  // pages writable at the last harvest
  Bitmap precopy_;  // scratch: what a round copies ahead (the ring keeps the staged pages)
  uint64_t epoch_precopy_ns_ = 0;
  uint64_t frames_next_epoch_ = 0;  // store frames to have ready for the next epoch
  Bitmap rearm_;  // scratch, sized once so the pause allocates nothing
  HotPages hot_pages_;  // left writable this epoch; examined at every checkpoint
  CostModel cost_model_;
  Mode mode_ = Mode::StopAndCopy;  // in effect (the loop's view)
  Mode mode_requested_ = Mode::StopAndCopy;
  std::string fallback_reason_;

  // Shared with the copy-on-write fault handler: the ring (whose open log
  // it fills) and the protection state (in cow_). Taken after a pause,
  // never across one: a vCPU may wait in a fault for the handler, which
  // waits for this.
  std::mutex ring_mu_;
  Bitmap written_, lost_;  // per-epoch scratch

  mutable std::mutex mu_;  // guards what follows
  std::condition_variable wake_;
  CheckpointConfig config_;
  bool enabled_in_ring_ = false;  // the loop's view of config_.enabled
  std::vector<std::unique_ptr<Pending>> requests_;
  bool stopping_ = false;
  std::vector<CheckpointInfo> published_;
  Totals totals_;

  // Late among the members: its handler thread uses the ring, ring_mu_ and
  // wake_, and must have ended before they go.
  CowFaultServer cow_;
  std::thread thread_;
};

}  // namespace uckpt::core
