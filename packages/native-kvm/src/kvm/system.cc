#include "system.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <memory>

#include "kvm_abi.h"
#include "system_error.h"

namespace uckpt::kvm {
namespace {

constexpr int kKvmApiVersion = 12;

// Capabilities without which this VMM cannot work at all.
struct Required {
  long capability;
  const char* name;
};
constexpr Required kRequired[] = {
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},  // race-free pause
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS"},
};

std::vector<kvm_cpuid_entry2> read_supported_cpuid(int fd) {
  auto list = std::make_unique<abi::CpuidList>();
  list->nent = abi::kMaxCpuidEntries;
  check(ioctl(fd, abi::kGetSupportedCpuid, list.get()), "KVM_GET_SUPPORTED_CPUID");
  return {list->entries, list->entries + list->nent};
}

std::vector<uint32_t> read_msr_indices(int fd) {
  auto list = std::make_unique<abi::MsrList>();
  list->nmsrs = abi::kMaxMsrIndices;
  check(ioctl(fd, abi::kGetMsrIndexList, list.get()), "KVM_GET_MSR_INDEX_LIST");
  return {list->indices, list->indices + list->nmsrs};
}

}  // namespace

System::System(const char* path) {
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) throw SystemError(std::string("open ") + path, errno);
  fd_ = Fd(fd);

  long version = check(ioctl(fd, KVM_GET_API_VERSION, 0), "KVM_GET_API_VERSION");
  if (version != kKvmApiVersion) {
    throw UsageError("KVM API version " + std::to_string(version) + " is not the stable version 12");
  }
  for (const auto& req : kRequired) {
    if (check_extension(req.capability) <= 0) {
      throw UsageError(std::string("this kernel's KVM lacks ") + req.name + ", which the VMM needs");
    }
  }
  caps_.max_vcpus = static_cast<int>(check_extension(KVM_CAP_MAX_VCPUS));
  if (caps_.max_vcpus <= 0) caps_.max_vcpus = static_cast<int>(check_extension(KVM_CAP_NR_VCPUS));
  caps_.vcpu_mmap_bytes = static_cast<size_t>(check(ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0), "KVM_GET_VCPU_MMAP_SIZE"));
  if (check_extension(KVM_CAP_XSAVE) > 0) {
    long xsave2 = check_extension(KVM_CAP_XSAVE2);
    caps_.xsave_bytes = std::max(static_cast<size_t>(xsave2), sizeof(abi::XsaveHeader));
  }
  caps_.xcrs = check_extension(KVM_CAP_XCRS) > 0;
  long manual = check_extension(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
  caps_.manual_dirty_log_protect = manual > 0 ? static_cast<uint64_t>(manual) : 0;
  long ring = check_extension(KVM_CAP_DIRTY_LOG_RING);
  caps_.dirty_ring_bytes = ring > 0 ? static_cast<uint64_t>(ring) : 0;

  cpuid_ = read_supported_cpuid(fd);
  msr_indices_ = read_msr_indices(fd);
}

long System::check_extension(long capability) const {
  long r = ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

}  // namespace uckpt::kvm
