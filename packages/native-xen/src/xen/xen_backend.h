// Adapts a Xen domain to the checkpoint core's Backend interface: pauses
// through the toolstack's pause count, writes tracked by Xen's log-dirty
// mode, pages through dom0 foreign mappings, vCPUs as the HVM context.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "domain.h"
#include "guest_channels.h"
#include "uckpt/core/backend.h"

namespace uckpt::xen {

class XenBackend : public core::Backend {
 public:
  // Log-dirty goes on at the first harvest; the destructor switches it off.
  // Finds what the guest shares with Xen and its daemons (GuestChannels).
  explicit XenBackend(Domain& domain);
  ~XenBackend() override { domain_.disable_log_dirty(); }

  uint64_t page_count() const override { return domain_.page_count(); }
  GuestState guest_state() const override;
  void pause() override {
    switch_off_on_error([&] { domain_.pause(); });
  }
  void resume() override {
    switch_off_on_error([&] { domain_.resume(); });
  }
  // Switches log-dirty (back) on when it is off: an error switched it off,
  // or this is the first harvest. What the guest wrote while it was off is
  // in no bitmap, so the core takes a full checkpoint after an error.
  void harvest_dirty(core::Bitmap& dirty) override;
  void stop_tracking() override { domain_.disable_log_dirty(); }
  // A CLEAN re-arms every page: Xen cannot leave some writable and untracked.
  void rearm(const core::Bitmap&) override {}
  std::string leave_writable_unavailable() const override {
    return "not possible with Xen's log-dirty mode, which re-arms every page at each harvest";
  }
  // Without Xen's frames: they are not the guest's to have restored.
  void populated_pages(core::Bitmap& out) override {
    domain_.populated_pages(out);
    out.and_not(channels_.xen_owned());
  }
  uint8_t* page(uint64_t pfn) override {
    return switch_off_on_error([&] { return domain_.page(pfn); });
  }
  std::unique_ptr<core::VcpuSnapshot> capture_vcpus() override;
  // Guest time runs on: each vCPU keeps its current TSC (see hvm_context.h).
  void restore_vcpus(const core::VcpuSnapshot& snapshot) override;
  bool checkpoint_consistent() override { return channels_.xenstore_idle(); }
  void before_rollback() override;
  void after_rollback() override {
    switch_off_on_error([&] { channels_.after_restore(); });
  }

  // A crash (or a watchdog expiry) kept by on_crash/on_watchdog="preserve"
  // is revived in place; a domain that powered off, rebooted or suspended
  // did so on purpose and is its toolstack's to restart.
  std::string revive_refusal() const override;
  void revive() override {
    switch_off_on_error([&] { domain_.resume_from_shutdown(); });
  }
  std::string write_protect_unavailable() override {
    return "copy-on-write is not implemented for Xen (mem_access write protection measured no better under "
           "emulation; see packages/native-xen/README.md)";
  }

  // Pages written through writeMemory() since the last harvest: Xen's
  // log-dirty sees only the guest's own writes.
  void mark_written(uint64_t first_pfn, uint64_t last_pfn);

 private:
  // Log-dirty slows the guest (every first write faults into Xen): when
  // checkpointing fails it must not stay on.
  template <typename Call>
  auto switch_off_on_error(Call call) -> decltype(call()) {
    try {
      return call();
    } catch (...) {
      domain_.disable_log_dirty();
      throw;
    }
  }

  Domain& domain_;
  GuestChannels channels_;
  std::mutex written_mu_;
  core::Bitmap written_;
};

}  // namespace uckpt::xen
