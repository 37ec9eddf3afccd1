#include "guest_memory.h"

#include <sys/mman.h>

#include <string>

#include "system_error.h"

namespace uckpt::kvm {

GuestMemory::GuestMemory(uint64_t bytes) : bytes_(bytes) {
  // MAP_NORESERVE: a 16 GiB guest costs only the pages it touches.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw SystemError("mmap guest RAM (" + std::to_string(bytes >> 20) + " MiB)", errno);
  base_ = static_cast<uint8_t*>(p);
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
