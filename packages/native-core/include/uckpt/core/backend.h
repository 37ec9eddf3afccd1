// What a hypervisor backend provides to the checkpoint core. The core knows
// nothing of KVM or Xen: each backend adapts one hypervisor to this, in the
// way cloud-hypervisor's hypervisor::Vm trait has a KVM and an MSHV side.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "bitmap.h"

namespace uckpt::core {

constexpr uint64_t kPageSize = 4096;

// The state of every vCPU, in whatever form the backend keeps it.
class VcpuSnapshot {
 public:
  virtual ~VcpuSnapshot() = default;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual uint64_t page_count() const = 0;
  // CPU time the guest's vCPUs have run, summed, up to the last pause
  // (exact while paused); empty where unknown. What share of it the guest
  // lost to write faults tells how fast it could have gone, also when it
  // shares its CPUs with others (the wall clock would hide that).
  virtual std::optional<uint64_t> guest_cpu_ns() const { return std::nullopt; }
  // Timed epochs run only while the guest runs; a checkpoint on request is
  // also taken while its operator has it paused; a guest that has ended
  // (finished, crashed, stopped) gets neither.
  enum class GuestState { Running, Paused, Ended };
  virtual GuestState guest_state() const = 0;

  // Returns once every vCPU is out of the guest and acknowledged. Nested
  // with any other pause: resume() undoes exactly one pause().
  virtual void pause() = 0;
  virtual void resume() = 0;

  // ORs into `dirty` every page written since the last rearm() covering it,
  // by the guest or by the backend itself. Paused only. Protects nothing.
  virtual void harvest_dirty(Bitmap& dirty) = 0;
  // Starts tracking writes again for exactly these pages; pages left out
  // stay writable without being tracked (prediction keeps hot pages so and
  // copies them at every checkpoint). Paused only.
  virtual void rearm(const Bitmap& pages) = 0;
  // Checkpointing stopped (disabled, or failed): tracking writes may stop
  // until the next harvest_dirty(), which is followed by a full checkpoint.
  virtual void stop_tracking() {}
  // Empty where rearm() can really leave pages out (writable and
  // untracked), as dirty-page prediction needs; else what dirty tracking it
  // would take, in the hypervisor's terms: the core refuses a predictor
  // naming it.
  virtual std::string leave_writable_unavailable() const { return {}; }
  // Whether harvest_dirty() and rearm() may also run while the guest runs
  // (copying ahead needs it): a write racing them shows in a later harvest.
  virtual bool can_harvest_running() const { return false; }
  // Pages that may hold something other than zeros (never-touched RAM reads
  // as zeros and needs no copy).
  virtual void populated_pages(Bitmap& out) = 0;

  // Host address of a guest page; valid while paused.
  virtual uint8_t* page(uint64_t pfn) = 0;

  virtual std::unique_ptr<VcpuSnapshot> capture_vcpus() = 0;
  virtual void restore_vcpus(const VcpuSnapshot& snapshot) = 0;

  // State outside guest memory that others change (a hypervisor's rings to
  // its daemons, see native-xen's GuestChannels) can make some moments
  // unfit for a checkpoint or a rollback. The defaults suit a guest whose
  // whole state is its memory and vCPUs.
  //
  // Paused: whether a checkpoint taken now could be rolled back to safely,
  // and whether the guest may be rolled back now. The core retries briefly
  // when not, and then defers an epoch's checkpoint to the next epoch; the
  // first checkpoint and a rollback go ahead anyway after a longer wait.
  virtual bool checkpoint_consistent() { return true; }
  // Paused, before a rollback changes anything.
  virtual void before_rollback() {}
  // Paused, after a rollback restored memory and vCPUs (and before a
  // revived guest runs again).
  virtual void after_rollback() {}

  // Reviving: a rollback of a guest whose run ended in a failure (a crash)
  // restores it like any other and then lets it run again from there.
  //
  // Why a rollback must not bring this ended guest back (e.g. it finished
  // cleanly or was stopped), or empty when it may. Paused only.
  virtual std::string revive_refusal() const { return "this backend cannot revive a guest that has ended"; }
  // Paused, after memory and vCPUs of an ended guest were restored: makes
  // it runnable again; it runs when the pause ends.
  virtual void revive() { throw std::logic_error("revive: not supported"); }

  // Copy-on-write (optional): write protection of guest pages that every
  // writer, guest or VMM, blocks on, and the faults it raises. The core
  // saves a page's pre-image at its first write and then unprotects it.
  //
  // Why it cannot be used here, or empty when it can. May probe the host
  // once; the engine falls back to stop-and-copy and says why.
  virtual std::string write_protect_unavailable() { return "this backend cannot write-protect guest pages"; }
  // Starts write protection with nothing protected yet.
  virtual void start_write_protect() { throw std::logic_error("start_write_protect: not supported"); }
  // Unprotects everything, wakes every blocked writer and stops. Any time;
  // next_write_fault() then returns nothing.
  virtual void stop_write_protect() {}
  // Protects these pages (already protected ones may be included). Paused only.
  virtual void write_protect(const Bitmap&) { throw std::logic_error("write_protect: not supported"); }
  // Unprotects these pages and wakes the writers blocked on them. Any time.
  virtual void unprotect(const Bitmap&) {}
  // Unprotects one page and wakes the writers blocked on it. Any time.
  virtual void unprotect_page(uint64_t) {}
  // Blocks until a write hits a protected page and returns its pfn (the
  // writer waits until the page is unprotected); nothing once stopped.
  virtual std::optional<uint64_t> next_write_fault() { return std::nullopt; }
  // Host address of a write-protected page for reading, at any time: no
  // one can write it until it is unprotected.
  virtual const uint8_t* protected_page(uint64_t pfn) { return page(pfn); }
  // What one write-protection fault costs a writer (the kernel's round trip
  // without the handler's own work), measured on this host when write
  // protection started; 0 when unknown.
  virtual double write_fault_overhead_ns() { return 0; }
  // The whole cost of one such fault to a writer, handler included, as
  // measured at start; 0 when unknown.
  virtual double write_fault_probe_ns() { return 0; }
};

}  // namespace uckpt::core
