#include "dirty_ring.h"

#include <sys/mman.h>
#include <unistd.h>

#include "system_error.h"

namespace uckpt::kvm {

DirtyRing::DirtyRing(int vcpu_fd, uint64_t bytes) : count_(static_cast<uint32_t>(bytes / sizeof(kvm_dirty_gfn))) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd,
                 KVM_DIRTY_LOG_PAGE_OFFSET * sysconf(_SC_PAGESIZE));
  if (p == MAP_FAILED) throw SystemError("mmap dirty ring", errno);
  entries_ = static_cast<kvm_dirty_gfn*>(p);
}

DirtyRing::~DirtyRing() { munmap(entries_, uint64_t{count_} * sizeof(kvm_dirty_gfn)); }

uint64_t DirtyRing::collect(core::Bitmap& dirty) {
  uint64_t n = 0;
  for (;; n++) {
    kvm_dirty_gfn& e = entries_[fetch_ % count_];
    if (!(__atomic_load_n(&e.flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY)) break;
    if (e.slot == 0 && e.offset < dirty.size()) dirty.set(e.offset);
    __atomic_store_n(&e.flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
    fetch_++;
  }
  return n;
}

}  // namespace uckpt::kvm
