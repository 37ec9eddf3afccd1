// The HVM context as libxenctrl hands it over: a sequence of save records
// (descriptor, then data), one per vCPU for per-vCPU state. A rollback
// edits the CPU records before it hands an old context back to Xen.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace uckpt::xen {

// Sets each vCPU's TSC in `restored` to its value in `live`, so that guest
// time never runs backwards across a rollback (Xen's system time, which the
// guest's pvclock follows, does not either).
void carry_tsc(const std::vector<uint8_t>& live, std::vector<uint8_t>& restored);

// Where a general-purpose register (rax..r15, rsp, rbp, rip) is in a vCPU's
// CPU record; nullopt for any other name.
std::optional<size_t> register_offset(std::string_view name);

// XORs `mask` into the 64-bit field at `offset` of vCPU `vcpu`'s CPU record;
// returns its value before. Throws when the context has no record for it.
uint64_t xor_cpu_field(std::vector<uint8_t>& context, unsigned vcpu, size_t offset, uint64_t mask);

}  // namespace uckpt::xen
