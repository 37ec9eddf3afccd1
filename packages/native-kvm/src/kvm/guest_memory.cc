#include "guest_memory.h"

#include <sys/mman.h>

#include <string>

#include "system_error.h"

namespace uckpt::kvm {

namespace {
constexpr uint64_t kHugePage = 2 << 20;
}

GuestMemory::GuestMemory(uint64_t bytes) : bytes_(bytes) {
  // MAP_NORESERVE: a 16 GiB guest costs only the pages it touches.
  // Reserved one huge page larger, to start on a huge-page boundary.
  const uint64_t reserved = bytes + kHugePage;
  void* p = mmap(nullptr, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw SystemError("mmap guest RAM (" + std::to_string(bytes >> 20) + " MiB)", errno);
  const auto start = reinterpret_cast<uintptr_t>(p);
  const uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > start) munmap(p, aligned - start);
  if (start + reserved > aligned + bytes) munmap(reinterpret_cast<void*>(aligned + bytes), start + reserved - aligned - bytes);
  base_ = reinterpret_cast<uint8_t*>(aligned);
  // Transparent huge pages, as production VMMs back guest RAM: first touches
  // fault once per 2 MiB, and the checkpoint copies, scattered over guest RAM,
  // miss the host TLB far less (about 1.5x faster here). KVM still maps the
  // guest 4 KiB at a time while dirty logging is on. Best effort: with THP
  // disabled on the host the memory works the same in small pages.
  madvise(base_, bytes, MADV_HUGEPAGE);
}

GuestMemory::~GuestMemory() { munmap(base_, bytes_); }

uint8_t* GuestMemory::at(uint64_t gpa, uint64_t length, const char* operation) const {
  if (gpa > bytes_ || length > bytes_ - gpa) {
    throw UsageError(std::string(operation) + ": guest-physical range " + hex(gpa) + "+" +
                     std::to_string(length) + " is outside guest RAM (" + std::to_string(bytes_) + " bytes)");
  }
  return base_ + gpa;
}

}  // namespace uckpt::kvm
