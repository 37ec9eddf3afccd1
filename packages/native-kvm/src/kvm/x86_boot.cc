#include "x86_boot.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <memory>

#include "kvm_abi.h"
#include "system_error.h"
#include "uckpt_boot_tables.h"

namespace uckpt::kvm {
namespace {

constexpr uint64_t kCr0 = 0x80050033;  // PG, AM, WP, NE, ET, MP, PE
constexpr uint64_t kCr4 = 0x6a0;       // OSXMMEXCPT, OSFXSR, PGE, PAE
constexpr uint64_t kEfer = 0xd01;      // NXE, LMA, LME, SCE
// IF and reserved bit 1; IOPL=3 except under PVM. The workload reaches its
// ports from ring 3, through the TSS I/O permission bitmap
// (uckpt_build_gdt_tss), and where the CPU honours IOPL also through IOPL=3,
// with which it does not consult the bitmap at all. That second way is
// needed under QEMU's software emulation (TCG, the KVM rig): it checks the
// bitmap only through a TR of type 9 (available TSS) and, running KVM under
// its emulated SVM, takes TR as KVM_SET_SREGS gave it, the busy type 0xb that
// hardware demands (VMX entry checks): every port access from ring 3 raised
// #GP there. PVM keeps its guests' IOPL at 0 and uses the bitmap, so there
// the flags stay as they were (not yet tried otherwise on a PVM host).
// The guest cannot change IOPL from ring 3 (popf keeps it), so vCPU state
// read back from KVM keeps it, and rollbacks and revives write it back with
// the rest (write_vcpu_state).
constexpr uint64_t kRflags = 0x202;
constexpr uint64_t kIopl3 = 0x3000;

bool host_kvm_is_pvm() {
  static const bool pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
  return pvm;
}

kvm_segment flat_segment(uint16_t selector, uint8_t type, uint8_t dpl, bool code64) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.dpl = dpl;
  s.db = code64 ? 0 : 1;
  s.s = 1;
  s.l = code64 ? 1 : 0;
  s.g = 1;
  return s;
}

void set_cpuid(int fd, unsigned index, const System& system) {
  const auto& entries = system.supported_cpuid();
  auto cpuid = std::make_unique<abi::CpuidList>();
  cpuid->nent = static_cast<uint32_t>(entries.size());
  for (size_t i = 0; i < entries.size(); i++) {
    cpuid->entries[i] = entries[i];
    if (entries[i].function == 1) {  // initial APIC id, so vCPUs can tell each other apart
      cpuid->entries[i].ebx = (cpuid->entries[i].ebx & 0x00ffffff) | (index << 24);
    }
  }
  check(ioctl(fd, abi::kSetCpuid2, cpuid.get()), "KVM_SET_CPUID2");
}

}  // namespace

void write_boot_tables(uint8_t* ram, uint64_t memory_bytes, const EntryPoints& entry) {
  uckpt_build_page_tables(ram, memory_bytes);
  uckpt_build_gdt_tss(ram, /*tss_busy=*/1);
  uckpt_build_idt(ram, entry.exception_vectors, entry.vector_stride);
}

void setup_boot_vcpu(int fd, unsigned index, const System& system, const EntryPoints& entry) {
  // CPUID first: KVM validates the special registers against it.
  set_cpuid(fd, index, system);

  kvm_sregs sregs{};
  check(ioctl(fd, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
  const bool boot = index == 0;
  const uint8_t dpl = boot ? 3 : 0;
  sregs.cs = flat_segment(boot ? UCKPT_SEL_UCODE : UCKPT_SEL_KCODE, 0xb, dpl, true);
  kvm_segment data = flat_segment(boot ? UCKPT_SEL_UDATA : UCKPT_SEL_KDATA, 0x3, dpl, false);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;

  sregs.tr = kvm_segment{};
  sregs.tr.base = UCKPT_TSS_GPA;
  sregs.tr.limit = UCKPT_TSS_LIMIT;
  sregs.tr.selector = UCKPT_SEL_TSS;
  sregs.tr.type = 0xb;  // busy 64-bit TSS
  sregs.tr.present = 1;
  sregs.ldt = kvm_segment{};
  sregs.ldt.unusable = 1;
  sregs.gdt.base = UCKPT_GDT_GPA;
  sregs.gdt.limit = UCKPT_GDT_LIMIT;
  sregs.idt.base = UCKPT_IDT_GPA;
  sregs.idt.limit = UCKPT_IDT_LIMIT;
  sregs.cr0 = kCr0;
  sregs.cr3 = UCKPT_PML4_GPA;
  sregs.cr4 = kCr4;
  sregs.efer = kEfer;
  check(ioctl(fd, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");

  kvm_fpu fpu{};
  fpu.fcw = 0x37f;     // x87 default
  fpu.mxcsr = 0x1f80;  // SSE exceptions masked (KVM's default is 0 here)
  check(ioctl(fd, KVM_SET_FPU, &fpu), "KVM_SET_FPU");

  kvm_regs regs{};
  regs.rflags = host_kvm_is_pvm() ? kRflags : kRflags | kIopl3;
  if (boot) {
    regs.rip = entry.user_entry;
    regs.rsp = entry.user_stack_top;
    regs.rdi = UCKPT_BOOT_KVM;
  } else {
    regs.rip = entry.idle_entry;
    regs.rsp = UCKPT_KSTACK_TOP;
  }
  check(ioctl(fd, KVM_SET_REGS, &regs), "KVM_SET_REGS");
}

}  // namespace uckpt::kvm
