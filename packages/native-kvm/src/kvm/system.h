// /dev/kvm: the API version, the capabilities the VMM depends on, and the
// per-host facts every VM needs (vCPU mapping size, CPUID, MSR list).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fd.h"

namespace uckpt::kvm {

struct Capabilities {
  int max_vcpus = 0;
  size_t vcpu_mmap_bytes = 0;
  size_t xsave_bytes = 0;              // KVM_GET_XSAVE2 buffer size; 0: no XSAVE
  bool xcrs = false;
  uint64_t manual_dirty_log_protect = 0;  // KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 flags
  uint64_t dirty_ring_bytes = 0;          // KVM_CAP_DIRTY_LOG_RING
};

class System {
 public:
  // Opens /dev/kvm and checks every capability the VMM cannot run without.
  explicit System(const char* path = "/dev/kvm");

  int fd() const { return fd_.get(); }
  const Capabilities& capabilities() const { return caps_; }
  // CPUID as the host supports it, ready for KVM_SET_CPUID2.
  const std::vector<kvm_cpuid_entry2>& supported_cpuid() const { return cpuid_; }
  // The MSRs this host lets us save and restore.
  const std::vector<uint32_t>& msr_indices() const { return msr_indices_; }
  long check_extension(long capability) const;

 private:
  Fd fd_;
  Capabilities caps_;
  std::vector<kvm_cpuid_entry2> cpuid_;
  std::vector<uint32_t> msr_indices_;
};

}  // namespace uckpt::kvm
