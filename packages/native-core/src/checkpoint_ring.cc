#include "uckpt/core/checkpoint_ring.h"

#include <algorithm>
#include <cstring>

#include "uckpt/core/clock.h"

namespace uckpt::core {
namespace {

constexpr FrameId kUnset = kNoFrame - 1;  // rollback scratch: no source chosen yet
constexpr uint32_t kFromShadow = UINT32_MAX;

template <typename Ring>
std::string range_of(const Ring& ring) {
  if (ring.empty()) return "none";
  return std::to_string(ring.front().seq) + ".." + std::to_string(ring.back().seq);
}

}  // namespace

CheckpointRing::CheckpointRing(Backend& backend, uint64_t store_bytes, unsigned retention, CopyPool& copiers)
    : backend_(backend),
      store_(store_bytes),
      copiers_(copiers),
      retention_(std::max(1u, retention)),
      open_(backend.page_count(), kUnsetFrame),
      shadow_(backend.page_count(), kNoFrame),
      staged_(backend.page_count(), kUnsetFrame),
      source_(backend.page_count(), kUnset),
      source_owner_(backend.page_count(), kFromShadow) {}

CheckpointRing::~CheckpointRing() = default;

void CheckpointRing::set_retention(unsigned retention) {
  retention_ = std::max(1u, retention);
  while (ring_.size() > retention_) retire_oldest();
}

CheckpointRing::Checkpoint CheckpointRing::new_checkpoint() {
  Checkpoint c;
  c.seq = next_seq_++;
  c.monotonic_ns = now_ns(CLOCK_MONOTONIC);
  c.wall_ms = now_ns(CLOCK_REALTIME) / 1000000;
  c.vcpus = backend_.capture_vcpus();
  return c;
}

void CheckpointRing::release_undo(Checkpoint& c) {
  const bool open = cow_ && !ring_.empty() && &c == &ring_.back();
  for (const UndoEntry& e : c.undo) {
    if (e.frame != kNoFrame) store_.release(e.frame);
    if (open) open_[e.pfn] = kUnsetFrame;
  }
  c.undo.clear();
}

void CheckpointRing::retire_oldest() {
  release_undo(ring_.front());
  ring_.pop_front();
  retired_++;
}

// Retires old checkpoints until `frames` are free. The newest checkpoint is
// never retired: its undo log is the one being filled.
void CheckpointRing::make_room(uint64_t frames) {
  const uint64_t free_before = store_.capacity_frames() - store_.frames_in_use();
  uint64_t reclaimable = free_before;
  for (size_t i = 0; i + 1 < ring_.size() && reclaimable < frames; i++) {
    for (const UndoEntry& e : ring_[i].undo) reclaimable += e.frame != kNoFrame;
  }
  if (reclaimable < frames) {
    throw StoreFull("the checkpoint store bound (" + std::to_string(store_.max_bytes() >> 20) +
                    " MiB) cannot hold this checkpoint: " + std::to_string(frames) + " more pages are needed, " +
                    std::to_string(reclaimable) + " could be freed (the shadow holds " +
                    std::to_string(shadow_pages_) + " pages); raise the bound");
  }
  while (store_.capacity_frames() - store_.frames_in_use() < frames) retire_oldest();
}

// The copies a pause waits for: their checksums are queued, to be settled
// once the guest runs again.
std::vector<FrameId> CheckpointRing::copy_to_new_frames(const std::vector<uint64_t>& pages,
                                                        const std::function<void()>& beside) {
  make_room(pages.size());
  std::vector<FrameId> frames(pages.size());
  for (FrameId& f : frames) f = store_.allocate();
  try {
    copiers_.parallel_for(
        pages.size(),
        [&](size_t begin, size_t end) {
          for (size_t i = begin; i < end; i++) store_.copy_in(frames[i], backend_.page(pages[i]));
        },
        beside);
  } catch (...) {  // `beside` failed: nothing holds these frames
    for (FrameId f : frames) store_.release(f);
    throw;
  }
  store_.queue_checksums(frames);
  return frames;
}

uint64_t CheckpointRing::copy_to_shadow(const std::vector<uint64_t>& pages, std::vector<UndoEntry>* undo,
                                        const std::function<void()>& beside) {
  std::vector<FrameId> frames = copy_to_new_frames(pages, beside);
  for (size_t i = 0; i < pages.size(); i++) {
    FrameId& slot = shadow_[pages[i]];
    if (slot == kNoFrame) shadow_pages_++;
    if (undo) {
      undo->push_back({pages[i], slot});  // the old shadow copy is the pre-image
    } else if (slot != kNoFrame) {
      store_.release(slot);
    }
    slot = frames[i];
  }
  return pages.size();
}

static std::vector<uint64_t> pages_of(const Bitmap& bitmap) {
  std::vector<uint64_t> pages;
  pages.reserve(bitmap.count());
  bitmap.for_each([&](uint64_t pfn) { pages.push_back(pfn); });
  return pages;
}

TakeResult CheckpointRing::begin() {
  clear();
  Bitmap populated(backend_.page_count());
  backend_.populated_pages(populated);
  uint64_t copied = copy_to_shadow(pages_of(populated), nullptr);
  ring_.push_back(new_checkpoint());
  return {ring_.back().seq, copied, 0, 0};
}

TakeResult CheckpointRing::take(const Bitmap& dirty, const std::function<void()>& beside) {
  if (ring_.empty()) throw std::logic_error("take() before begin()");
  const uint64_t retired_before = retired_;
  std::vector<uint64_t> pages = pages_of(dirty);
  // A staged page written again is copied anew: its staged frame is the
  // first the copy reuses.
  for (uint64_t pfn : pages) {
    if (staged_[pfn] == kUnsetFrame) continue;
    store_.release(staged_[pfn]);
    staged_[pfn] = kUnsetFrame;
  }
  make_room(pages.size());  // before choosing the undo log: it may retire checkpoints
  auto& undo = ring_.back().undo;
  uint64_t copied = copy_to_shadow(pages, &undo, beside);
  uint64_t staged = 0;
  for (uint64_t pfn : staged_list_) {
    if (staged_[pfn] == kUnsetFrame) continue;
    FrameId& slot = shadow_[pfn];
    if (slot == kNoFrame) shadow_pages_++;
    undo.push_back({pfn, slot});
    slot = staged_[pfn];
    staged_[pfn] = kUnsetFrame;
    staged++;
  }
  staged_list_.clear();
  ring_.push_back(new_checkpoint());
  while (ring_.size() > retention_) retire_oldest();
  return {ring_.back().seq, copied, staged, retired_ - retired_before};
}

bool CheckpointRing::stage(const Bitmap& pages, const std::function<void()>& before_copy) {
  if (cow_ || ring_.empty()) throw std::logic_error("stage() needs a stop-and-copy checkpoint");
  std::vector<uint64_t> fresh;  // pages without a staged frame yet
  pages.for_each([&](uint64_t pfn) {
    if (staged_[pfn] == kUnsetFrame) fresh.push_back(pfn);
  });
  if (store_.capacity_frames() - store_.frames_in_use() < fresh.size()) return false;
  for (uint64_t pfn : fresh) staged_[pfn] = store_.allocate();
  staged_list_.insert(staged_list_.end(), fresh.begin(), fresh.end());
  try {
    before_copy();
  } catch (...) {
    drop_staged();
    throw;
  }
  pages.for_each([&](uint64_t pfn) { store_.store(staged_[pfn], backend_.page(pfn)); });
  return true;
}

uint64_t CheckpointRing::add_staged(Bitmap& pages) const {
  for (uint64_t pfn : staged_list_) pages.set(pfn);
  return staged_list_.size();
}

void CheckpointRing::drop_staged() {
  for (uint64_t pfn : staged_list_) {
    if (staged_[pfn] != kUnsetFrame) store_.release(staged_[pfn]);
    staged_[pfn] = kUnsetFrame;
  }
  staged_list_.clear();
}

RollbackResult CheckpointRing::rollback(std::optional<uint64_t> seq, const Bitmap& open_dirty,
                                        const std::function<void(const std::vector<uint64_t>&)>& before_write) {
  if (ring_.empty()) throw RollbackRefused("no checkpoint is retained");
  const uint64_t target = seq.value_or(ring_.back().seq);
  auto it = std::find_if(ring_.begin(), ring_.end(), [&](const Checkpoint& c) { return c.seq == target; });
  if (it == ring_.end()) {
    throw RollbackRefused("checkpoint " + std::to_string(target) + " is not retained (retained: " + range_of(ring_) +
                          ")");
  }
  const size_t t = static_cast<size_t>(it - ring_.begin());
  const size_t newest = ring_.size() - 1;

  // Choose each page's source: the oldest undo log at or after the target
  // (with copy-on-write the open log too), else (stop-and-copy: written
  // only since the newest checkpoint) the shadow.
  std::vector<uint64_t> touched;
  for (size_t k = cow_ ? newest + 1 : newest; k-- > t;) {
    for (const UndoEntry& e : ring_[k].undo) {
      if (source_[e.pfn] == kUnset) touched.push_back(e.pfn);
      source_[e.pfn] = e.frame;
      source_owner_[e.pfn] = static_cast<uint32_t>(k);
    }
  }
  auto from_shadow = [&](uint64_t pfn) {
    if (source_[pfn] != kUnset) return;
    touched.push_back(pfn);
    source_[pfn] = shadow_[pfn];
    source_owner_[pfn] = kFromShadow;
  };
  if (!cow_) {
    open_dirty.for_each(from_shadow);
    for (uint64_t pfn : staged_list_) from_shadow(pfn);
  }
  auto reset_scratch = [&] {
    for (uint64_t pfn : touched) source_[pfn] = kUnset;
  };

  // Every stored page is checked before anything is written.
  for (uint64_t pfn : touched) {
    FrameId f = source_[pfn];
    if (f == kNoFrame || store_.verify(f)) continue;
    Checkpoint& holder = source_owner_[pfn] == kFromShadow ? ring_.back() : ring_[source_owner_[pfn]];
    holder.corrupt = true;
    reset_scratch();
    throw RollbackRefused("checkpoint " + std::to_string(holder.seq) + " holds a corrupted copy of guest page " +
                          std::to_string(pfn) + " (checksum mismatch): rollback to " + std::to_string(target) +
                          " refused");
  }

  if (before_write) before_write(touched);
  backend_.restore_vcpus(*ring_[t].vcpus);
  copiers_.parallel_for(touched.size(), [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) {
      FrameId f = source_[touched[i]];
      uint8_t* page = backend_.page(touched[i]);
      if (f == kNoFrame) {
        std::memset(page, 0, kPageSize);
      } else {
        std::memcpy(page, store_.data(f), kPageSize);
      }
    }
  });
  drop_staged();  // what they held is no longer in the guest

  if (cow_) {
    // No shadow: every log from the target on is spent, and the target's
    // own log opens again, empty.
    for (size_t k = t; k <= newest; k++) release_undo(ring_[k]);
    reset_scratch();
    const uint64_t dropped = newest - t;
    ring_.erase(ring_.begin() + static_cast<long>(t) + 1, ring_.end());
    return {target, touched.size(), dropped};
  }
  // The restored pre-images become the shadow; the rest of the newer undo
  // logs, and the shadow copies they replace, are freed.
  for (uint64_t pfn : touched) {
    if (source_owner_[pfn] == kFromShadow) continue;
    FrameId& slot = shadow_[pfn];
    if (slot != kNoFrame) store_.release(slot);
    if (slot != kNoFrame) shadow_pages_--;
    if (source_[pfn] != kNoFrame) shadow_pages_++;
    slot = source_[pfn];
  }
  for (size_t k = t; k < newest; k++) {
    for (const UndoEntry& e : ring_[k].undo) {
      bool moved = source_[e.pfn] == e.frame && source_owner_[e.pfn] == k;
      if (!moved && e.frame != kNoFrame) store_.release(e.frame);
    }
    ring_[k].undo.clear();
  }
  reset_scratch();
  const uint64_t dropped = newest - t;
  ring_.erase(ring_.begin() + static_cast<long>(t) + 1, ring_.end());
  return {target, touched.size(), dropped};
}

void CheckpointRing::set_copy_on_write(bool on) {
  if (on == cow_) return;
  clear();
  cow_ = on;
}

TakeResult CheckpointRing::begin_open() {
  if (!cow_) throw std::logic_error("begin_open() without copy-on-write");
  clear();
  ring_.push_back(new_checkpoint());
  return {ring_.back().seq, 0, 0, 0};
}

void CheckpointRing::save_pre_image(uint64_t pfn) {
  if (ring_.empty()) throw std::logic_error("save_pre_image() without a checkpoint");
  if (open_[pfn] != kUnsetFrame) return;
  make_room(1);
  FrameId frame = store_.allocate();
  store_.store(frame, backend_.protected_page(pfn));
  ring_.back().undo.push_back({pfn, frame});
  open_[pfn] = frame;
}

uint64_t CheckpointRing::fill_open(const Bitmap& pages) {
  std::vector<uint64_t> todo;
  pages.for_each([&](uint64_t pfn) {
    if (open_[pfn] == kUnsetFrame) todo.push_back(pfn);
  });
  std::vector<FrameId> frames = copy_to_new_frames(todo);
  auto& undo = ring_.back().undo;
  for (size_t i = 0; i < todo.size(); i++) {
    undo.push_back({todo[i], frames[i]});
    open_[todo[i]] = frames[i];
  }
  return todo.size();
}

TakeResult CheckpointRing::take_open(const Bitmap& hot, const Bitmap& changed, const Bitmap& next_hot) {
  if (ring_.empty()) throw std::logic_error("take_open() before begin_open()");
  const uint64_t retired_before = retired_;
  // Hot pages that were not written: their copy is not a pre-image of this
  // epoch, but it is the content now, so a page that stays hot keeps it.
  std::vector<UndoEntry> carried;
  auto& undo = ring_.back().undo;
  size_t kept = 0;
  for (const UndoEntry& e : undo) {
    if (hot.test(e.pfn) && !changed.test(e.pfn)) {
      if (next_hot.test(e.pfn)) {
        carried.push_back(e);
      } else {
        store_.release(e.frame);
      }
    } else {
      undo[kept++] = e;
    }
    open_[e.pfn] = kUnsetFrame;
  }
  undo.resize(kept);
  ring_.push_back(new_checkpoint());
  for (const UndoEntry& e : carried) open_[e.pfn] = e.frame;
  ring_.back().undo = std::move(carried);
  while (ring_.size() > retention_) retire_oldest();
  uint64_t copied = fill_open(next_hot);
  return {ring_.back().seq, copied, 0, retired_ - retired_before};
}

CheckpointRing::Compared CheckpointRing::find_changed(const Bitmap& candidates, Bitmap& changed, uint64_t stride,
                                                      uint64_t offset) {
  std::vector<uint64_t> compared = pages_of(candidates);
  if (stride > 1) {  // keeps the sample in place; the others count as changed
    size_t kept = 0;
    for (size_t i = 0; i < compared.size(); i++) {
      if (i % stride == offset % stride) {
        compared[kept++] = compared[i];
      } else {
        changed.set(compared[i]);
      }
    }
    compared.resize(kept);
  }
  std::vector<uint8_t> differs(compared.size());
  static const uint8_t zeros[kPageSize] = {};
  uint64_t cpu_ns = 0;
  copiers_.parallel_for(compared.size(), [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) {
      FrameId f = cow_ ? open_[compared[i]] : shadow_[compared[i]];
      if (f == kUnsetFrame) {  // copy-on-write: no copy was kept, count it written
        differs[i] = 1;
        continue;
      }
      differs[i] = std::memcmp(backend_.page(compared[i]), f == kNoFrame ? zeros : store_.data(f), kPageSize) != 0;
    }
  }, nullptr, &cpu_ns);
  uint64_t differing = 0;
  for (size_t i = 0; i < compared.size(); i++) {
    if (differs[i]) changed.set(compared[i]), differing++;
  }
  return {compared.size(), differing, cpu_ns};
}

void CheckpointRing::clear() {
  drop_staged();
  while (!ring_.empty()) retire_oldest();
  std::fill(open_.begin(), open_.end(), kUnsetFrame);
  for (FrameId& f : shadow_) {
    if (f != kNoFrame) store_.release(f);
    f = kNoFrame;
  }
  shadow_pages_ = 0;
}

std::vector<CheckpointInfo> CheckpointRing::list() const {
  std::vector<CheckpointInfo> out;
  for (size_t i = 0; i < ring_.size(); i++) {
    const Checkpoint& c = ring_[i];
    const bool newest = !cow_ && i + 1 == ring_.size();
    uint64_t pages = newest ? shadow_pages_ : c.undo.size();
    uint64_t frames = newest ? shadow_pages_ : 0;
    if (!newest) {
      for (const UndoEntry& e : c.undo) frames += e.frame != kNoFrame;
    }
    out.push_back({c.seq, c.monotonic_ns, c.wall_ms, pages, frames * kPageSize, c.corrupt});
  }
  return out;
}

void CheckpointRing::corrupt_for_test(uint64_t seq, uint64_t pfn) {
  auto it = std::find_if(ring_.begin(), ring_.end(), [&](const Checkpoint& c) { return c.seq == seq; });
  if (it == ring_.end()) throw std::invalid_argument("checkpoint " + std::to_string(seq) + " is not retained");
  FrameId frame = kNoFrame;
  if (it + 1 == ring_.end() && !cow_) {
    frame = pfn < shadow_.size() ? shadow_[pfn] : kNoFrame;
  } else {
    for (const UndoEntry& e : it->undo) {
      if (e.pfn == pfn) frame = e.frame;
    }
  }
  if (frame == kNoFrame) {
    throw std::invalid_argument("checkpoint " + std::to_string(seq) + " holds no stored copy of page " +
                                std::to_string(pfn));
  }
  store_.corrupt_for_test(frame, static_cast<uint32_t>(pfn * 7919));
}

}  // namespace uckpt::core
