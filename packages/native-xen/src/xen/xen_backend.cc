#include "xen_backend.h"

#include <vector>

#include "hvm_context.h"

namespace uckpt::xen {
namespace {

struct HvmContext : core::VcpuSnapshot {
  std::vector<uint8_t> blob;
};

// How long a rollback waits for xenstored and xenconsoled to finish with
// what the guest sent them.
constexpr unsigned kDaemonWaitMs = 500;

}  // namespace

XenBackend::XenBackend(Domain& domain) : domain_(domain), channels_(domain), written_(domain.page_count()) {}

core::Backend::GuestState XenBackend::guest_state() const {
  switch (domain_.info().state) {
    case DomainState::Running: return GuestState::Running;
    case DomainState::Paused: return GuestState::Paused;  // by its operator or the toolstack
    default: return GuestState::Ended;
  }
}

std::string XenBackend::revive_refusal() const {
  const DomainInfo d = domain_.info();
  if (d.state == DomainState::Crashed) return {};
  if (d.state == DomainState::Shutdown && d.shutdown_reason == SHUTDOWN_watchdog) return {};
  if (d.state == DomainState::Shutdown) {
    return std::string("domain ") + std::to_string(d.domid) + " shut down (" + shutdown_reason_name(d.shutdown_reason) +
           "): that was the guest's decision, and restarting it is its toolstack's";
  }
  return "domain " + std::to_string(d.domid) + " no longer exists";
}

void XenBackend::harvest_dirty(core::Bitmap& dirty) {
  switch_off_on_error([&] {
    if (!domain_.log_dirty()) domain_.enable_log_dirty();
    domain_.clean_log_dirty(dirty);
  });
  std::lock_guard<std::mutex> lock(written_mu_);
  dirty |= written_;
  written_.clear();
  dirty.and_not(channels_.xen_owned());
  channels_.mark_changed_rings(dirty);
}

void XenBackend::before_rollback() {
  // Busy daemons past the bound: roll back anyway (the guest needs it
  // more); their next pass sees consistent indexes either way.
  channels_.wait_for_daemons(kDaemonWaitMs);
}

void XenBackend::mark_written(uint64_t first_pfn, uint64_t last_pfn) {
  std::lock_guard<std::mutex> lock(written_mu_);
  for (uint64_t pfn = first_pfn; pfn <= last_pfn && pfn < written_.size(); pfn++) written_.set(pfn);
}

std::unique_ptr<core::VcpuSnapshot> XenBackend::capture_vcpus() {
  auto snapshot = std::make_unique<HvmContext>();
  snapshot->blob = switch_off_on_error([&] { return domain_.hvm_context(); });
  return snapshot;
}

void XenBackend::restore_vcpus(const core::VcpuSnapshot& snapshot) {
  switch_off_on_error([&] {
    std::vector<uint8_t> context = static_cast<const HvmContext&>(snapshot).blob;
    carry_tsc(domain_.hvm_context(), context);
    domain_.set_hvm_context(std::move(context));
  });
}

}  // namespace uckpt::xen
