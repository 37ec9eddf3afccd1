#include "xenstore_exchange.h"

#include <algorithm>
#include <cstddef>

#include "xen_api.h"

namespace uckpt::xen {
namespace {

// xenstored answers in microseconds; under software emulation in tens of
// milliseconds. A reply owed for longer than this was miscounted.
constexpr auto kLongestReply = std::chrono::seconds(1);
// More requests in flight than any guest keeps: not a framing we trust.
constexpr size_t kMostUnanswered = 256;

uint32_t load_index(const uint8_t* ring, size_t offset) {
  return __atomic_load_n(reinterpret_cast<const uint32_t*>(ring + offset), __ATOMIC_ACQUIRE);
}

}  // namespace

bool XenstoreExchange::frame(uint32_t& boundary, const uint8_t* data, uint32_t prod,
                             const std::function<void(const xsd_sockmsg&)>& whole) {
  for (;;) {
    const uint32_t pending = prod - boundary;
    if (pending > XENSTORE_RING_SIZE) return false;  // overwritten since the last look
    xsd_sockmsg header;
    if (pending < sizeof header) return true;
    auto* bytes = reinterpret_cast<uint8_t*>(&header);
    for (uint32_t i = 0; i < sizeof header; i++) bytes[i] = data[MASK_XENSTORE_IDX(boundary + i)];
    if (header.type >= XS_TYPE_COUNT || header.len > XENSTORE_PAYLOAD_MAX) return false;
    const uint32_t length = sizeof header + header.len;
    if (pending < length) return true;  // the rest is yet to come
    boundary += length;
    whole(header);
  }
}

void XenstoreExchange::reframe(uint32_t req_prod, uint32_t rsp_prod) {
  framed_ = true;
  request_boundary_ = req_prod;
  reply_boundary_ = rsp_prod;
  unanswered_.clear();
  owed_since_ = {};
}

bool XenstoreExchange::idle(const uint8_t* ring) {
  const auto* intf = reinterpret_cast<const xenstore_domain_interface*>(ring);
  const uint32_t req_cons = load_index(ring, offsetof(xenstore_domain_interface, req_cons));
  const uint32_t req_prod = load_index(ring, offsetof(xenstore_domain_interface, req_prod));
  const uint32_t rsp_cons = load_index(ring, offsetof(xenstore_domain_interface, rsp_cons));
  const uint32_t rsp_prod = load_index(ring, offsetof(xenstore_domain_interface, rsp_prod));
  const bool empty = req_cons == req_prod && rsp_cons == rsp_prod;
  if (framed_) {
    auto request = [&](const xsd_sockmsg& m) { unanswered_.push_back(m.req_id); };
    auto reply = [&](const xsd_sockmsg& m) {
      if (m.type == XS_WATCH_EVENT) return;
      auto it = std::find(unanswered_.begin(), unanswered_.end(), m.req_id);
      if (it != unanswered_.end()) unanswered_.erase(it);  // else it answers a request from before framing
    };
    framed_ = frame(request_boundary_, reinterpret_cast<const uint8_t*>(intf->req), req_prod, request) &&
              frame(reply_boundary_, reinterpret_cast<const uint8_t*>(intf->rsp), rsp_prod, reply) &&
              unanswered_.size() <= kMostUnanswered;
  }
  if (!framed_) {
    if (empty) reframe(req_prod, rsp_prod);
    return false;  // a boundary by assumption only: not a moment to checkpoint
  }
  const auto now = std::chrono::steady_clock::now();
  if (unanswered_.empty()) {
    owed_since_ = {};
  } else if (owed_since_ == std::chrono::steady_clock::time_point{}) {
    owed_since_ = now;
  } else if (now - owed_since_ > kLongestReply) {
    unanswered_.clear();  // xenstored dropped them: owed no longer
    owed_since_ = {};
  }
  return empty && request_boundary_ == req_prod && reply_boundary_ == rsp_prod && unanswered_.empty();
}

}  // namespace uckpt::xen
