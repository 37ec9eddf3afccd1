// The HVM context as libxenctrl hands it over: a sequence of save records
// (descriptor, then data), one per vCPU for per-vCPU state. A rollback
// edits the CPU records before it hands an old context back to Xen.
#pragma once

#include <cstdint>
#include <vector>

namespace uckpt::xen {

// Sets each vCPU's TSC in `restored` to its value in `live`, so that guest
// time never runs backwards across a rollback (Xen's system time, which the
// guest's pvclock follows, does not either).
void carry_tsc(const std::vector<uint8_t>& live, std::vector<uint8_t>& restored);

}  // namespace uckpt::xen
