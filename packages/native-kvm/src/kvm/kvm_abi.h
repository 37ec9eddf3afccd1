// The KVM structures that end in a flexible array, laid out as the kernel
// expects them. In C++, <linux/kvm.h>'s __DECLARE_FLEX_ARRAY (Linux 6.1
// UAPI headers, as in Debian 12) wraps the array behind an empty struct
// that takes a byte: it moves the array and changes the size encoded in the
// ioctl numbers, and the kernel answers EINVAL. These do not.
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace uckpt::kvm::abi {

constexpr size_t kMaxCpuidEntries = 256;  // KVM_MAX_CPUID_ENTRIES
constexpr size_t kMaxMsrIndices = 1024;
constexpr size_t kMaxMsrs = 64;

struct CpuidHeader {
  uint32_t nent, padding;
};
struct CpuidList {
  uint32_t nent, padding;
  kvm_cpuid_entry2 entries[kMaxCpuidEntries];
};

struct MsrListHeader {
  uint32_t nmsrs;
};
struct MsrList {
  uint32_t nmsrs;
  uint32_t indices[kMaxMsrIndices];
};

struct MsrsHeader {
  uint32_t nmsrs, pad;
};
struct Msrs {
  uint32_t nmsrs, pad;
  kvm_msr_entry entries[kMaxMsrs];
};

struct XsaveHeader {
  uint32_t region[1024];
};

static_assert(offsetof(CpuidList, entries) == 8);
static_assert(offsetof(MsrList, indices) == 4);
static_assert(offsetof(Msrs, entries) == 8);

constexpr unsigned long kGetMsrIndexList = _IOWR(KVMIO, 0x02, MsrListHeader);
constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidHeader);
constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, MsrsHeader);
constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);
constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);
constexpr unsigned long kGetXsave = _IOR(KVMIO, 0xa4, XsaveHeader);
constexpr unsigned long kSetXsave = _IOW(KVMIO, 0xa5, XsaveHeader);
constexpr unsigned long kGetXsave2 = _IOR(KVMIO, 0xcf, XsaveHeader);

}  // namespace uckpt::kvm::abi
