// What a dirty-log write-protection fault costs the guest on this host: the
// fault happens inside KVM_RUN, where the VMM cannot time it, so a guest
// (the image's fault probe, see guest/runtime/fault_probe.c) times it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uckpt::kvm {

// Boots the workload image in a small scratch VM to run the probe; the
// guest's median write to a re-protected page less its median plain write,
// in ns. Throws with the reason when the probe cannot run.
double measure_dirty_log_fault_ns(const uint8_t* elf, size_t size);

}  // namespace uckpt::kvm
