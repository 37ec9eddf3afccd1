// Adapts a KVM Machine to the checkpoint core's Backend interface.
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "machine.h"
#include "uckpt/core/backend.h"
#include "userfault_wp.h"

namespace uckpt::kvm {

class KvmBackend : public core::Backend {
 public:
  // `no_write_protect`: why write protection must not be used (a test's way
  // to exercise the fallback); empty to probe the host.
  explicit KvmBackend(Machine& machine, std::string no_write_protect = "")
      : machine_(machine), unavailable_(std::move(no_write_protect)) {}

  uint64_t page_count() const override { return machine_.memory_bytes() / core::kPageSize; }
  std::optional<uint64_t> guest_cpu_ns() const override { return machine_.vcpu_cpu_ns(); }
  GuestState guest_state() const override;
  void pause() override { machine_.suspend("checkpoint"); }
  void resume() override { machine_.unsuspend(); }
  void harvest_dirty(core::Bitmap& dirty) override { machine_.harvest_dirty(dirty); }
  void rearm(const core::Bitmap& pages) override { machine_.rearm_dirty(pages); }
  std::string leave_writable_unavailable() const override {
    return machine_.manual_dirty_protect() ? "" : "on KVM the dirty bitmap with manual protection, not dirty rings";
  }
  // KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG are made for running guests
  // (live migration); with dirty rings the harvest must stay paused.
  bool can_harvest_running() const override { return machine_.manual_dirty_protect(); }
  void populated_pages(core::Bitmap& out) override { machine_.populated_pages(out); }
  uint8_t* page(uint64_t pfn) override { return machine_.ram() + pfn * core::kPageSize; }
  std::unique_ptr<core::VcpuSnapshot> capture_vcpus() override;
  void restore_vcpus(const core::VcpuSnapshot& snapshot) override;
  std::string revive_refusal() const override { return machine_.revive_refusal(); }
  void revive() override { machine_.revive(); }

  // Copy-on-write through userfaultfd write protection of guest RAM.
  std::string write_protect_unavailable() override;
  void start_write_protect() override;
  void stop_write_protect() override;
  void write_protect(const core::Bitmap& pages) override { wp_->protect(pages); }
  void unprotect(const core::Bitmap& pages) override { wp_->unprotect(pages); }
  void unprotect_page(uint64_t pfn) override { wp_->unprotect_range(pfn, 1); }
  std::optional<uint64_t> next_write_fault() override { return wp_->next_fault(); }
  double write_fault_overhead_ns() override { return std::max(0.0, cost_.total_ns - cost_.handler_ns); }
  double write_fault_probe_ns() override { return cost_.total_ns; }

 private:
  Machine& machine_;
  std::string unavailable_;
  bool probed_ = false;
  std::unique_ptr<UserfaultWriteProtect> wp_;
  UserfaultCost cost_;
};

}  // namespace uckpt::kvm
