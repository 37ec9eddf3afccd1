// What a hypervisor backend provides to the checkpoint core. The core knows
// nothing of KVM or Xen: each backend adapts one hypervisor to this, in the
// way cloud-hypervisor's hypervisor::Vm trait has a KVM and an MSHV side.
#pragma once

#include <cstdint>
#include <memory>

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
  // Whether rearm() can really leave pages out (writable and untracked);
  // dirty-page prediction needs it.
  virtual bool can_leave_writable() const { return true; }
  // Pages that may hold something other than zeros (never-touched RAM reads
  // as zeros and needs no copy).
  virtual void populated_pages(Bitmap& out) = 0;

  // Host address of a guest page; valid while paused.
  virtual uint8_t* page(uint64_t pfn) = 0;

  virtual std::unique_ptr<VcpuSnapshot> capture_vcpus() = 0;
  virtual void restore_vcpus(const VcpuSnapshot& snapshot) = 0;
};

}  // namespace uckpt::core
