#include "guest_channels.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "uckpt/core/system_error.h"
#include "xen_api.h"

namespace uckpt::xen {
namespace {

// req_cons, req_prod, rsp_cons, rsp_prod
constexpr size_t kStoreIndexes = offsetof(xenstore_domain_interface, req_cons);
// in_cons, in_prod, out_cons, out_prod
constexpr size_t kConsoleIndexes = offsetof(xencons_interface, in_cons);
// Linux's HYPERVISOR_CALLBACK_VECTOR: what it registers as its per-vCPU
// upcall vector on Xen >= 4.17, which dom0 cannot read back.
constexpr uint8_t kLinuxUpcallVector = 0xf3;
constexpr uint64_t kCallbackViaVector = 2;  // HVM_PARAM_CALLBACK_IRQ's type (bits 63:56) for a vector
}  // namespace

GuestChannels::GuestChannels(Domain& domain) : domain_(domain), xen_owned_(domain.page_count()) {
  devicemodel_ = xendevicemodel_open(quiet_logger(), 0);
  if (!devicemodel_) throw core::SystemError("attach: xendevicemodel_open", errno);
  domain_.xen_owned_pages(xen_owned_);
  const uint64_t store = domain_.hvm_param(HVM_PARAM_STORE_PFN);
  const uint64_t console = domain_.hvm_param(HVM_PARAM_CONSOLE_PFN);
  // xenstored consumes requests (req_cons), xenconsoled output (out_cons).
  const Ring wanted[] = {{store, kStoreIndexes, 0}, {console, kConsoleIndexes, 2}};
  for (const Ring& ring : wanted) {
    if (ring.pfn && ring.pfn < domain_.page_count() && !xen_owned_.test(ring.pfn)) rings_.push_back(ring);
  }
  if (!rings_.empty() && rings_.front().pfn == store) store_pfn_ = store;
}

GuestChannels::~GuestChannels() { xendevicemodel_close(devicemodel_); }

bool GuestChannels::xenstore_idle() { return store_pfn_ == 0 || store_exchange_.idle(domain_.page(store_pfn_)); }

void GuestChannels::after_restore() {
  store_exchange_.restart();
  redeliver_events();
}

void GuestChannels::redeliver_events() {
  const uint64_t callback = domain_.hvm_param(HVM_PARAM_CALLBACK_IRQ);
  if (callback == 0) return;  // the guest takes no upcalls (our workload image)
  if (uint8_t* shared = domain_.shared_info()) {
    auto* pending = reinterpret_cast<uint64_t*>(shared + offsetof(shared_info, evtchn_pending));
    for (uint32_t port : domain_.timer_ports()) __atomic_fetch_or(&pending[port / 64], uint64_t{1} << (port % 64), __ATOMIC_SEQ_CST);
  }
  const uint8_t vector = (callback >> 56) == kCallbackViaVector ? static_cast<uint8_t>(callback) : kLinuxUpcallVector;
  // Fixed delivery, edge, physical destination: Xen gives vCPU n APIC ID 2n.
  for (unsigned vcpu = 0; vcpu < domain_.info().vcpus; vcpu++) {
    const uint64_t address = 0xfee00000u | (uint64_t{vcpu} * 2 << 12);
    if (xendevicemodel_inject_msi(devicemodel_, static_cast<domid_t>(domain_.domid()), address, vector) < 0) {
      throw core::SystemError("after a rollback: xendevicemodel_inject_msi", errno);
    }
  }
}

// Each index is 32 bits and aligned: one load reads it whole.
uint32_t GuestChannels::index(const Ring& ring, int i) {
  const uint8_t* page = domain_.page(ring.pfn);
  return __atomic_load_n(reinterpret_cast<const uint32_t*>(page + ring.indexes + 4 * i), __ATOMIC_ACQUIRE);
}

void GuestChannels::mark_changed_rings(core::Bitmap& dirty) {
  for (Ring& ring : rings_) {
    const uint8_t* page = domain_.page(ring.pfn);
    if (std::memcmp(page, ring.seen.data(), ring.seen.size()) == 0) continue;
    std::memcpy(ring.seen.data(), page, ring.seen.size());
    dirty.set(ring.pfn);
  }
}

bool GuestChannels::wait_for_daemons(unsigned bound_ms) {
  // Idle daemons: all the guest sent is consumed, and nothing moved
  // between two looks (a reply may follow the consumption).
  auto look = [&] {
    std::vector<uint32_t> v;
    for (const Ring& ring : rings_) {
      for (int i = 0; i < 4; i++) v.push_back(index(ring, i));
    }
    return v;
  };
  auto consumed = [&] {
    for (const Ring& ring : rings_) {
      if (index(ring, ring.daemon_cons) != index(ring, ring.daemon_cons + 1)) return false;
    }
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(bound_ms);
  auto before = look();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const auto now = look();
    if (consumed() && now == before) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    before = now;
  }
}

}  // namespace uckpt::xen
