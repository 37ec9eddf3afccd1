// The last K checkpoints of one guest, kept incrementally in memory, and
// in-place rollback to any of them.
//
// Checkpoint n is the guest as it was at time T(n). Its undo log U(n) holds
// the pre-images (contents at T(n)) of the pages written between T(n) and
// T(n+1). Rolling back to n writes every page changed since T(n) with its
// content at T(n): for a page in several undo logs, the oldest one at or
// after n wins, which is what applying the logs newest-first gives, with
// each page written once.
//
// Stop-and-copy cannot capture a pre-image at the moment of the write, so it
// keeps a shadow: the content at the newest checkpoint of every page the
// guest has written (pages never written read as zeros and are not kept).
// At a checkpoint the shadow copy of each dirty page becomes that page's
// pre-image in the undo log (no copy), and the page is copied into a new
// shadow frame. Memory: shadow (up to the guest's touched RAM) + undo logs
// (dirty pages per epoch x retained epochs).
//
// Stop-and-copy may also copy ahead ("pre-copy"): while the guest runs,
// pages written so far in the epoch are protected again and copied into
// staged frames; at the checkpoint only the pages written since are copied,
// and a staged page not written again becomes the shadow as it was staged.
//
// Copy-on-write saves the pre-image at the first write instead, into the
// undo log of the newest checkpoint while the guest runs (the open log),
// and needs no shadow: undo logs only. Pages predicted hot are copied into
// the open log when it opens, and dropped from it again at the next
// checkpoint if they turn out unchanged.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend.h"
#include "bitmap.h"
#include "copy_pool.h"
#include "page_store.h"

namespace uckpt::core {

struct CheckpointInfo {
  uint64_t seq;
  uint64_t monotonic_ns;  // when it was taken, CLOCK_MONOTONIC
  uint64_t wall_ms;       // the same moment, Unix time
  uint64_t pages;         // pages in its undo log
  uint64_t bytes;         // bytes of page frames it holds
  bool corrupt;           // a stored page failed its checksum
};

struct TakeResult {
  uint64_t seq;
  uint64_t pages_copied;
  uint64_t pages_staged;  // copied ahead and not written again: taken as staged
  uint64_t checkpoints_retired;  // to respect the retention or the memory bound
};

struct RollbackResult {
  uint64_t seq;                 // the checkpoint now current
  uint64_t pages_restored;      // pages written back into the guest
  uint64_t checkpoints_dropped; // newer checkpoints given up
};

// A rollback that was refused; nothing in the guest or the ring changed.
class RollbackRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The memory bound leaves no room even after retiring every older checkpoint.
class StoreFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class CheckpointRing {
 public:
  CheckpointRing(Backend& backend, uint64_t store_bytes, unsigned retention, CopyPool& copiers);
  ~CheckpointRing();

  bool empty() const { return ring_.empty(); }
  size_t size() const { return ring_.size(); }
  uint64_t latest_seq() const { return ring_.back().seq; }
  unsigned retention() const { return retention_; }
  void set_retention(unsigned retention);

  // All of these run with the guest paused.
  // The first checkpoint: copies every populated page into the shadow.
  TakeResult begin();
  // A checkpoint at the end of an epoch in which `dirty` pages were written
  // since they were staged, if they were; staged pages are in it too.
  // `beside` runs on the calling thread while other threads copy.
  TakeResult take(const Bitmap& dirty, const std::function<void()>& beside = nullptr);
  // Stop-and-copy, while the guest runs: copies `pages` (with checksums, on
  // the calling thread alone) into staged frames for the next take().
  // `before_copy` must protect them, so that a write from then on shows in
  // the next harvest. Returns false, having done nothing, when the store
  // has no room for them without retiring a checkpoint. If `before_copy`
  // throws, everything staged is dropped.
  bool stage(const Bitmap& pages, const std::function<void()>& before_copy);
  // ORs the staged pages into `pages`; returns how many there are.
  uint64_t add_staged(Bitmap& pages) const;
  // Back to checkpoint `seq` (the newest when empty); `open_dirty` are the
  // pages written since the newest checkpoint (stop-and-copy: staged pages
  // are restored too, and their frames dropped; copy-on-write has them in
  // the open log). `before_write` sees the pages about to be written back,
  // once every stored copy was verified. Throws RollbackRefused.
  RollbackResult rollback(std::optional<uint64_t> seq, const Bitmap& open_dirty,
                          const std::function<void(const std::vector<uint64_t>&)>& before_write = {});
  // Drops every checkpoint and the shadow.
  void clear();
  // Sets in `changed` the pages among `candidates` whose content differs
  // from the newest checkpoint: how a hot (unprotected) page is known to
  // have been written. With `stride` > 1 only every stride-th candidate
  // (from `offset`) is compared, and the others are set as changed.
  struct Compared {
    uint64_t pages;    // compared
    uint64_t changed;  // of those
    uint64_t cpu_ns;   // the comparing threads' CPU time, summed
    double precision() const { return pages ? double(changed) / double(pages) : 0; }
    // Of `candidates` pages, how many changed: counted, or estimated from the sample.
    uint64_t changed_of(uint64_t candidates) const {
      return pages == candidates ? changed : static_cast<uint64_t>(double(candidates) * precision() + 0.5);
    }
  };
  Compared find_changed(const Bitmap& candidates, Bitmap& changed, uint64_t stride = 1, uint64_t offset = 0);

  // Copy-on-write. Switching empties the ring.
  void set_copy_on_write(bool on);
  bool copy_on_write() const { return cow_; }
  // The first checkpoint: nothing is copied, the guest is protected instead.
  TakeResult begin_open();
  // Saves the current content of `pfn` (protected, so it is the content at
  // the newest checkpoint) into the open log, unless it holds it already.
  // Any time, under the caller's lock. Throws StoreFull.
  void save_pre_image(uint64_t pfn);
  bool in_open_log(uint64_t pfn) const { return open_[pfn] != kUnsetFrame; }
  // Ends the open log: the copies of `hot` pages that are not in
  // `changed` are dropped from it (moved into the new log if the page is in
  // `next_hot`), a new checkpoint opens, and every `next_hot` page is in
  // its log. Throws StoreFull.
  TakeResult take_open(const Bitmap& hot, const Bitmap& changed, const Bitmap& next_hot);
  // Copies `pages` not in the open log into it; returns how many.
  uint64_t fill_open(const Bitmap& pages);

  // Checksums of pages copied in a pause are computed afterwards, a slice
  // at a time; returns how many are still to do.
  size_t settle_checksums(size_t at_most) { return store_.settle_checksums(at_most); }
  // Backs the store frames that the next `frames` copies will take, up to
  // `at_most` at a time; returns how many are still to back.
  uint64_t prefault(uint64_t frames, uint64_t at_most) { return store_.prefault(frames, at_most); }

  std::vector<CheckpointInfo> list() const;
  uint64_t store_bytes() const { return store_.bytes_in_use(); }
  uint64_t shadow_pages() const { return shadow_pages_; }
  uint64_t store_bound() const { return store_.max_bytes(); }

  // Test hook: flips a bit of the stored pre-image of `pfn` in checkpoint
  // `seq`'s undo log (or of its shadow copy when `seq` is the newest).
  void corrupt_for_test(uint64_t seq, uint64_t pfn);

 private:
  struct UndoEntry {
    uint64_t pfn;
    FrameId frame;  // kNoFrame: the page was all zeros
  };
  struct Checkpoint {
    uint64_t seq;
    uint64_t monotonic_ns;
    uint64_t wall_ms;
    std::unique_ptr<VcpuSnapshot> vcpus;
    std::vector<UndoEntry> undo;
    bool corrupt = false;
  };

  // Copies `pages` into new frames (in parallel, checksums queued). Frees
  // room first; throws StoreFull untouched.
  std::vector<FrameId> copy_to_new_frames(const std::vector<uint64_t>& pages,
                                          const std::function<void()>& beside = nullptr);
  // Copies `pages` into fresh shadow frames, moving the old shadow frames
  // into `undo` when given.
  uint64_t copy_to_shadow(const std::vector<uint64_t>& pages, std::vector<UndoEntry>* undo,
                          const std::function<void()>& beside = nullptr);
  void make_room(uint64_t frames);
  void drop_staged();
  void retire_oldest();
  void release_undo(Checkpoint& c);
  Checkpoint new_checkpoint();

  static constexpr FrameId kUnsetFrame = kNoFrame - 1;

  Backend& backend_;
  PageStore store_;
  CopyPool& copiers_;
  unsigned retention_;
  std::deque<Checkpoint> ring_;
  bool cow_ = false;
  std::vector<FrameId> open_;    // copy-on-write: each page's frame in the open log
  std::vector<FrameId> shadow_;  // per page; kNoFrame: all zeros
  std::vector<FrameId> staged_;  // stop-and-copy: each page's staged frame
  std::vector<uint64_t> staged_list_;  // the pages with one
  uint64_t shadow_pages_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t retired_ = 0;

  // Scratch for rollback, sized once: where each page is restored from.
  std::vector<FrameId> source_;
  std::vector<uint32_t> source_owner_;  // ring index, or UINT32_MAX for the shadow
};

}  // namespace uckpt::core
