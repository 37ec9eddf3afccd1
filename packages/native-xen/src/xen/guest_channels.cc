#include "guest_channels.h"

#include <array>
#include <chrono>
#include <cstddef>
#include <thread>

#include "xen_api.h"

namespace uckpt::xen {
namespace {

// Each ring index is 32 bits and aligned: one load reads it whole.
uint32_t index_at(const uint8_t* page, size_t offset) {
  return __atomic_load_n(reinterpret_cast<const uint32_t*>(page + offset), __ATOMIC_ACQUIRE);
}

constexpr size_t kStoreIndexes = offsetof(xenstore_domain_interface, req_cons);  // req_cons, req_prod, rsp_cons, rsp_prod
constexpr size_t kConsoleIndexes = offsetof(xencons_interface, in_cons);         // in_cons, in_prod, out_cons, out_prod

}  // namespace

GuestChannels::GuestChannels(Domain& domain)
    : domain_(domain), xen_owned_(domain.page_count()), always_copied_(domain.page_count()) {
  domain_.xen_owned_pages(xen_owned_);
  store_pfn_ = domain_.hvm_param(HVM_PARAM_STORE_PFN);
  console_pfn_ = domain_.hvm_param(HVM_PARAM_CONSOLE_PFN);
  for (uint64_t pfn : {store_pfn_, console_pfn_}) {
    if (pfn && pfn < domain_.page_count() && !xen_owned_.test(pfn)) always_copied_.set(pfn);
  }
}

uint8_t* GuestChannels::ring(uint64_t pfn) {
  if (!pfn || !always_copied_.test(pfn)) return nullptr;
  return domain_.page(pfn);
}

bool GuestChannels::rings_quiescent() {
  for (auto [pfn, at] : {std::pair{store_pfn_, kStoreIndexes}, std::pair{console_pfn_, kConsoleIndexes}}) {
    const uint8_t* page = ring(pfn);
    if (!page) continue;
    if (index_at(page, at) != index_at(page, at + 4) || index_at(page, at + 8) != index_at(page, at + 12)) return false;
  }
  return true;
}

bool GuestChannels::wait_for_daemons(unsigned bound_ms) {
  // The daemons' side: xenstored consumes requests (req_cons) and writes
  // replies, xenconsoled consumes output (out_cons). Idle: all consumed,
  // and nothing moved between two looks.
  auto look = [&] {
    std::array<uint32_t, 8> v{};
    if (const uint8_t* s = ring(store_pfn_)) {
      for (int i = 0; i < 4; i++) v[i] = index_at(s, kStoreIndexes + 4 * i);
    }
    if (const uint8_t* c = ring(console_pfn_)) {
      for (int i = 0; i < 4; i++) v[4 + i] = index_at(c, kConsoleIndexes + 4 * i);
    }
    return v;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(bound_ms);
  auto before = look();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const auto now = look();
    const bool consumed = now[0] == now[1] && now[6] == now[7];  // req_cons == req_prod, out_cons == out_prod
    if (consumed && now == before) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    before = now;
  }
}

}  // namespace uckpt::xen
