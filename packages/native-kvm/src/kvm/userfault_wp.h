// Write protection of guest RAM through userfaultfd (UFFDIO_REGISTER_MODE_WP
// and UFFDIO_WRITEPROTECT), the mechanism of QEMU's background snapshot:
// a write to a protected page, by a vCPU inside KVM_RUN or by the VMM
// itself, blocks until the page is unprotected, and its address arrives
// as a message on the userfaultfd for a handler thread to serve.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fd.h"
#include "uckpt/core/bitmap.h"

namespace uckpt::kvm {

// What one write-protection fault costs on this host, measured on a scratch
// mapping with a writer thread and a handler (both ns per fault).
struct UserfaultCost {
  double total_ns = 0;    // as the writer sees it
  double handler_ns = 0;  // reading the message and unprotecting
};

class UserfaultWriteProtect {
 public:
  // Registers [base, base + bytes) for write protection; nothing is
  // protected yet. Throws SystemError or std::runtime_error saying what the
  // kernel lacks.
  UserfaultWriteProtect(uint8_t* base, uint64_t bytes);
  ~UserfaultWriteProtect();
  UserfaultWriteProtect(const UserfaultWriteProtect&) = delete;
  UserfaultWriteProtect& operator=(const UserfaultWriteProtect&) = delete;

  // One UFFDIO_WRITEPROTECT per run of pages.
  void protect(const core::Bitmap& pages);
  // Unprotects and wakes the writers blocked on them.
  void unprotect(const core::Bitmap& pages);
  void unprotect_range(uint64_t first_page, uint64_t pages);
  // Blocks until a write fault arrives (its page number) or interrupt().
  std::optional<uint64_t> next_fault();
  // Unprotects everything, wakes every writer, and makes next_fault()
  // return nothing from now on.
  void stop();
  bool stopped() const { return stopped_; }

  // Measures the cost of a fault on this host (a few milliseconds).
  static UserfaultCost measure();

 private:
  uint8_t* base_;
  uint64_t bytes_;
  Fd uffd_;
  Fd stop_event_;
  bool stopped_ = false;
};

// A userfaultfd with the features write protection of guest RAM needs
// (UFFD_FEATURE_PAGEFAULT_FLAG_WP and, so that never-touched pages fault
// too, UFFD_FEATURE_WP_UNPOPULATED). Throws saying what is missing.
Fd open_write_protect_userfaultfd();

}  // namespace uckpt::kvm
