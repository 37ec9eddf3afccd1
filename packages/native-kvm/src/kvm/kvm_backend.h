// Adapts a KVM Machine to the checkpoint core's Backend interface.
#pragma once

#include "machine.h"
#include "uckpt/core/backend.h"

namespace uckpt::kvm {

class KvmBackend : public core::Backend {
 public:
  explicit KvmBackend(Machine& machine) : machine_(machine) {}

  uint64_t page_count() const override { return machine_.memory_bytes() / core::kPageSize; }
  GuestState guest_state() const override;
  void pause() override { machine_.suspend("checkpoint"); }
  void resume() override { machine_.unsuspend(); }
  void harvest_dirty(core::Bitmap& dirty) override { machine_.harvest_dirty(dirty); }
  void rearm(const core::Bitmap& pages) override { machine_.rearm_dirty(pages); }
  bool can_leave_writable() const override { return machine_.manual_dirty_protect(); }
  void populated_pages(core::Bitmap& out) override { machine_.populated_pages(out); }
  uint8_t* page(uint64_t pfn) override { return machine_.ram() + pfn * core::kPageSize; }
  std::unique_ptr<core::VcpuSnapshot> capture_vcpus() override;
  void restore_vcpus(const core::VcpuSnapshot& snapshot) override;

 private:
  Machine& machine_;
};

}  // namespace uckpt::kvm
