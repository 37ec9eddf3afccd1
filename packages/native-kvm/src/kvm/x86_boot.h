// Puts vCPUs straight into 64-bit long mode, the way Firecracker boots
// Linux: the VMM writes page tables, GDT, TSS and IDT into guest RAM and
// loads the registers itself. On PVM hosts a guest cannot enable long mode
// on its own, and ring-0 code runs emulated, so the boot vCPU starts the
// workload directly in ring 3.
#pragma once

#include <cstdint>

#include "system.h"

namespace uckpt::kvm {

struct EntryPoints {
  uint64_t user_entry;         // ring 3, boot vCPU
  uint64_t user_stack_top;
  uint64_t exception_vectors;  // ring 0, 32 stubs
  uint32_t vector_stride;
  uint64_t idle_entry;         // ring 0, secondary vCPUs halt here
};

// Writes the boot tables into guest RAM (`ram` maps guest-physical 0).
void write_boot_tables(uint8_t* ram, uint64_t memory_bytes, const EntryPoints& entry);

// Loads CPUID and the long-mode register state into one vCPU.
void setup_boot_vcpu(int vcpu_fd, unsigned index, const System& system, const EntryPoints& entry);

}  // namespace uckpt::kvm
