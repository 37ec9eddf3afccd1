#include "vcpu_state.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <iterator>

#include "kvm_abi.h"
#include "system_error.h"

namespace uckpt::kvm {
namespace {

constexpr uint32_t kWantedMsrs[] = {
    0x00000010,  // TSC
    0x00000174,  // SYSENTER_CS
    0x00000175,  // SYSENTER_ESP
    0x00000176,  // SYSENTER_EIP
    0x00000277,  // PAT
    0x000001a0,  // MISC_ENABLE
    0xc0000081,  // STAR
    0xc0000082,  // LSTAR
    0xc0000083,  // CSTAR
    0xc0000084,  // SYSCALL_MASK
    0xc0000102,  // KERNEL_GS_BASE
    0xc0000103,  // TSC_AUX
};

}  // namespace

std::vector<uint32_t> saved_msr_indices(const std::vector<uint32_t>& supported) {
  std::vector<uint32_t> out;
  static_assert(std::size(kWantedMsrs) <= abi::kMaxMsrs);
  for (uint32_t index : kWantedMsrs) {
    if (std::find(supported.begin(), supported.end(), index) != supported.end()) out.push_back(index);
  }
  return out;
}

VcpuState read_vcpu_state(int fd, size_t xsave_bytes, bool xcrs, const std::vector<uint32_t>& msr_indices) {
  VcpuState s;
  check(ioctl(fd, KVM_GET_REGS, &s.regs), "KVM_GET_REGS");
  check(ioctl(fd, KVM_GET_SREGS, &s.sregs), "KVM_GET_SREGS");
  check(ioctl(fd, KVM_GET_FPU, &s.fpu), "KVM_GET_FPU");
  if (xsave_bytes) {
    s.xsave.assign(xsave_bytes, 0);
    unsigned long request = xsave_bytes > sizeof(abi::XsaveHeader) ? abi::kGetXsave2 : abi::kGetXsave;
    check(ioctl(fd, request, s.xsave.data()), "KVM_GET_XSAVE");
  }
  if (xcrs) {
    check(ioctl(fd, KVM_GET_XCRS, &s.xcrs), "KVM_GET_XCRS");
    s.has_xcrs = true;
  }
  if (!msr_indices.empty()) {
    abi::Msrs msrs{};
    msrs.nmsrs = static_cast<uint32_t>(msr_indices.size());
    for (size_t i = 0; i < msr_indices.size(); i++) msrs.entries[i].index = msr_indices[i];
    long read = check(ioctl(fd, abi::kGetMsrs, &msrs), "KVM_GET_MSRS");
    for (long i = 0; i < read; i++) s.msrs.push_back({msrs.entries[i].index, msrs.entries[i].data});
  }
  check(ioctl(fd, KVM_GET_VCPU_EVENTS, &s.events), "KVM_GET_VCPU_EVENTS");
  return s;
}

void write_vcpu_state(int fd, const VcpuState& s) {
  // Special registers first: they switch the mode the others are read in.
  check(ioctl(fd, KVM_SET_SREGS, &s.sregs), "KVM_SET_SREGS");
  if (s.msrs.size() > abi::kMaxMsrs) throw UsageError("KVM_SET_MSRS: at most 64 MSRs");
  if (!s.msrs.empty()) {
    abi::Msrs msrs{};
    msrs.nmsrs = static_cast<uint32_t>(s.msrs.size());
    for (size_t i = 0; i < s.msrs.size(); i++) {
      msrs.entries[i].index = s.msrs[i].index;
      msrs.entries[i].data = s.msrs[i].value;
    }
    long written = check(ioctl(fd, abi::kSetMsrs, &msrs), "KVM_SET_MSRS");
    if (written != static_cast<long>(s.msrs.size())) {
      throw UsageError("KVM_SET_MSRS: MSR " + hex(s.msrs[written].index) + " was refused");
    }
  }
  if (s.has_xcrs) check(ioctl(fd, KVM_SET_XCRS, &s.xcrs), "KVM_SET_XCRS");
  if (!s.xsave.empty()) {
    check(ioctl(fd, abi::kSetXsave, s.xsave.data()), "KVM_SET_XSAVE");
  } else {
    check(ioctl(fd, KVM_SET_FPU, &s.fpu), "KVM_SET_FPU");
  }
  check(ioctl(fd, KVM_SET_REGS, &s.regs), "KVM_SET_REGS");
  check(ioctl(fd, KVM_SET_VCPU_EVENTS, &s.events), "KVM_SET_VCPU_EVENTS");
}

}  // namespace uckpt::kvm
