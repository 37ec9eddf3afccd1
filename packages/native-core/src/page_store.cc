#include "uckpt/core/page_store.h"

#include <sys/mman.h>

#include <algorithm>
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
  backed_ = std::max(backed_, uint64_t{f} + 1);
  return f;
}

uint64_t PageStore::prefault(uint64_t frames, uint64_t at_most) {
  // The next allocations take the free frames below backed_ first (the
  // released ones on top), then the others in order from backed_.
  const uint64_t free_backed = free_.size() - (capacity_ - backed_);
  if (frames <= free_backed) return 0;
  const uint64_t wanted = std::min(capacity_, backed_ + (frames - free_backed));
  const uint64_t end = backed_ + std::min(wanted - backed_, at_most);
  uint8_t* from = base_ + backed_ * 4096;
  if (madvise(from, (end - backed_) * 4096, MADV_POPULATE_WRITE) != 0) {
    // Kernels before 5.14: touching each page does the same.
    for (uint8_t* p = from; p < base_ + end * 4096; p += 4096) *reinterpret_cast<volatile uint8_t*>(p) = 0;
  }
  backed_ = end;
  return wanted - end;
}

void PageStore::release(FrameId frame) { free_.push_back(frame); }

void PageStore::store(FrameId frame, const uint8_t* page) {
  checksums_[frame] = copy_page_crc32c(base_ + uint64_t{frame} * 4096, page);
}

void PageStore::copy_in(FrameId frame, const uint8_t* page) { std::memcpy(base_ + uint64_t{frame} * 4096, page, 4096); }

void PageStore::queue_checksums(const std::vector<FrameId>& frames) {
  unsummed_.insert(unsummed_.end(), frames.begin(), frames.end());
}

size_t PageStore::settle_checksums(size_t at_most) {
  for (; at_most > 0 && !unsummed_.empty(); at_most--) {
    const FrameId frame = unsummed_.back();
    unsummed_.pop_back();
    checksums_[frame] = crc32c(data(frame), 4096);
  }
  return unsummed_.size();
}

bool PageStore::verify(FrameId frame) {
  settle_checksums();
  return crc32c(data(frame), 4096) == checksums_[frame];
}

void PageStore::corrupt_for_test(FrameId frame, uint32_t bit) {
  settle_checksums();  // else the flipped bit would be summed as stored
  base_[uint64_t{frame} * 4096 + (bit / 8) % 4096] ^= static_cast<uint8_t>(1u << (bit % 8));
}

}  // namespace uckpt::core
