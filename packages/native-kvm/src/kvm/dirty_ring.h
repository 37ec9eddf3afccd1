// One vCPU's KVM dirty ring: the pages it wrote, in order, harvested by
// marking each entry reset (KVM_RESET_DIRTY_RINGS then re-protects them).
#pragma once

#include <linux/kvm.h>

#include <cstdint>

#include "uckpt/core/bitmap.h"

namespace uckpt::kvm {

class DirtyRing {
 public:
  DirtyRing(int vcpu_fd, uint64_t bytes);
  ~DirtyRing();
  DirtyRing(const DirtyRing&) = delete;
  DirtyRing& operator=(const DirtyRing&) = delete;

  // Sets the pages of every harvested entry in `dirty`; returns how many.
  uint64_t collect(core::Bitmap& dirty);

 private:
  kvm_dirty_gfn* entries_ = nullptr;
  uint32_t count_ = 0;
  uint32_t fetch_ = 0;  // next entry to look at; entries are harvested strictly in order
};

}  // namespace uckpt::kvm
