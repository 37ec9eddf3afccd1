// Page frames for stored pages: one region reserved up front up to the
// configured bound, handed out from a free list, so that storing a page on
// the hot path never allocates. Every frame carries the CRC32C of what was
// stored in it, checked before the page is ever written back.
//
// Pages copied while the guest is paused get their checksum afterwards
// (copy_in, then queue_checksums): computing it costs about a third of the
// copy, and the pause is what the guest waits for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace uckpt::core {

using FrameId = uint32_t;
constexpr FrameId kNoFrame = UINT32_MAX;

class PageStore {
 public:
  explicit PageStore(uint64_t max_bytes);
  ~PageStore();
  PageStore(const PageStore&) = delete;
  PageStore& operator=(const PageStore&) = delete;

  // kNoFrame when every frame is in use.
  FrameId allocate();
  void release(FrameId frame);

  // Copies a page in and records its checksum.
  void store(FrameId frame, const uint8_t* page);
  // Copies a page in without its checksum; safe from several threads for
  // different frames. The caller then queues the frames' checksums.
  void copy_in(FrameId frame, const uint8_t* page);
  void queue_checksums(const std::vector<FrameId>& frames);
  // Records the checksums of up to `at_most` queued frames; returns how
  // many are still queued. A frame released and reused meanwhile is summed
  // as it is then, which is what it holds.
  size_t settle_checksums(size_t at_most = SIZE_MAX);
  // Settles every queued checksum first.
  bool verify(FrameId frame);
  // Works towards the next `frames` allocations handing out frames already
  // backed by memory (the first touch of a frame costs a page fault, which
  // should not happen in a pause): backs up to `at_most` more, and returns
  // how many are still to back.
  uint64_t prefault(uint64_t frames, uint64_t at_most = UINT64_MAX);
  const uint8_t* data(FrameId frame) const { return base_ + uint64_t{frame} * 4096; }

  uint64_t capacity_frames() const { return capacity_; }
  uint64_t frames_in_use() const { return capacity_ - free_.size(); }
  uint64_t bytes_in_use() const { return frames_in_use() * 4096; }
  uint64_t max_bytes() const { return capacity_ * 4096; }

  // Test hook: flips one bit of a stored page without updating its checksum.
  void corrupt_for_test(FrameId frame, uint32_t bit);

 private:
  uint8_t* base_ = nullptr;
  uint64_t capacity_ = 0;
  std::vector<FrameId> free_;
  std::vector<uint32_t> checksums_;
  std::vector<FrameId> unsummed_;
  // Frames are handed out lowest first and reused from the top of the free
  // list, so the frames backed by memory are exactly [0, backed_).
  uint64_t backed_ = 0;
};

}  // namespace uckpt::core
