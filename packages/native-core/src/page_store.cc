#include "uckpt/core/page_store.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "uckpt/core/crc32c.h"

namespace uckpt::core {

PageStore::PageStore(uint64_t max_bytes) : capacity_(max_bytes / 4096) {
  if (capacity_ == 0 || capacity_ >= kNoFrame) {
    throw std::invalid_argument("page store bound must be from 4 KiB to 16 TiB, got " + std::to_string(max_bytes));
  }
  // Reserved, not committed: RSS grows only with frames actually used.
  void* p = mmap(nullptr, capacity_ * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error(std::string("mmap page store: ") + std::strerror(errno));
  base_ = static_cast<uint8_t*>(p);
  checksums_.assign(capacity_, 0);
  free_.reserve(capacity_);
  // Lowest frames on top: reuse keeps the touched part of the region small.
  for (uint64_t i = capacity_; i > 0; i--) free_.push_back(static_cast<FrameId>(i - 1));
}

PageStore::~PageStore() { munmap(base_, capacity_ * 4096); }

FrameId PageStore::allocate() {
  if (free_.empty()) return kNoFrame;
  FrameId f = free_.back();
  free_.pop_back();
  return f;
}

void PageStore::release(FrameId frame) { free_.push_back(frame); }

void PageStore::store(FrameId frame, const uint8_t* page) {
  checksums_[frame] = copy_page_crc32c(base_ + uint64_t{frame} * 4096, page);
}

bool PageStore::verify(FrameId frame) const { return crc32c(data(frame), 4096) == checksums_[frame]; }

void PageStore::corrupt_for_test(FrameId frame, uint32_t bit) {
  base_[uint64_t{frame} * 4096 + (bit / 8) % 4096] ^= static_cast<uint8_t>(1u << (bit % 8));
}

}  // namespace uckpt::core
