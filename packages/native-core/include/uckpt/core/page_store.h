// Page frames for stored pages: one region reserved up front up to the
// configured bound, handed out from a free list, so that storing a page on
// the hot path never allocates. Every frame carries the CRC32C of what was
// stored in it, checked before the page is ever written back.
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
  bool verify(FrameId frame) const;
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
};

}  // namespace uckpt::core
