// The architectural state of one vCPU as KVM exposes it: everything needed
// to stop a 64-bit guest and continue it later exactly where it was.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace uckpt::kvm {

struct Msr {
  uint32_t index;
  uint64_t value;
};

struct VcpuState {
  kvm_regs regs{};
  kvm_sregs sregs{};
  kvm_fpu fpu{};
  std::vector<uint8_t> xsave;  // empty when the host has no XSAVE
  kvm_xcrs xcrs{};
  bool has_xcrs = false;
  std::vector<Msr> msrs;
  kvm_vcpu_events events{};
};

// The MSRs a 64-bit guest depends on, saved when the host supports them.
std::vector<uint32_t> saved_msr_indices(const std::vector<uint32_t>& supported);

// Reads or writes the whole state; the vCPU must not be in KVM_RUN.
VcpuState read_vcpu_state(int vcpu_fd, size_t xsave_bytes, bool xcrs, const std::vector<uint32_t>& msrs);
void write_vcpu_state(int vcpu_fd, const VcpuState& state);

}  // namespace uckpt::kvm
