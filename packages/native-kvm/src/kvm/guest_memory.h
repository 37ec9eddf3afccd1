// Guest RAM: one anonymous host mapping, registered with KVM as one memory
// slot with dirty logging on, so that the checkpoint engine can harvest the
// dirty log and userfaultfd can write-protect the same mapping.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uckpt::kvm {

class GuestMemory {
 public:
  explicit GuestMemory(uint64_t bytes);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  uint64_t size() const { return bytes_; }
  uint8_t* base() const { return base_; }
  // Host address of [gpa, gpa + length); throws UsageError when out of range.
  uint8_t* at(uint64_t gpa, uint64_t length, const char* operation) const;

 private:
  uint8_t* base_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace uckpt::kvm
