// Whether a guest and xenstored are between conversations on the xenstore
// ring, told from the ring's own bytes.
//
// Equal indexes are not enough for a checkpoint that Linux survives being
// rolled back to. Linux writes a request's header and its body separately,
// and xenstored consumes a header before the body arrives; xenstored also
// consumes a whole request before it writes the reply. At either moment
// both rings look empty, yet a rollback there loses the rest: xenstored
// keeps a half-read request that the restored guest's next request lands in,
// or never repeats a reply the restored guest still waits for. Linux waits
// for xenstore replies without a timeout, so the guest's xenstore is dead
// from then on.
//
// So both streams are framed, message by message (each a 16-byte header
// with the payload's length and a request id that the reply echoes), from
// the last look to the producers' indexes, and each request is kept until
// a reply with its id comes (watch events are not replies). The exchange
// is idle when every request was sent whole, consumed and answered, and
// every reply read whole.
//
// Framing needs a known message boundary. It starts, and starts again after
// a rollback or when the ring moved more than its size between two looks,
// at a moment both rings look empty, taken as a boundary with nothing owed.
// Where xenstored did owe a reply then, that reply answers no request we
// know of and is ignored. A reply owed for longer than xenstored ever takes
// is given up (xenstored must have dropped the request).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

struct xsd_sockmsg;

namespace uckpt::xen {

class XenstoreExchange {
 public:
  // `ring` is the guest's xenstore ring page (xenstore_domain_interface),
  // read while the guest is paused: it cannot write its side meanwhile.
  bool idle(const uint8_t* ring);
  // The ring page was restored from a checkpoint taken while idle.
  void restart() { framed_ = false; }

 private:
  // Frames from `boundary` (a free-running ring index where a message
  // starts) up to `prod` over `data` (a ring of XENSTORE_RING_SIZE bytes),
  // calling `whole` with each whole message's header and moving `boundary`
  // past it. False when it cannot: overwritten, or not a message header.
  static bool frame(uint32_t& boundary, const uint8_t* data, uint32_t prod,
                    const std::function<void(const xsd_sockmsg&)>& whole);
  void reframe(uint32_t req_prod, uint32_t rsp_prod);

  bool framed_ = false;
  uint32_t request_boundary_ = 0;
  uint32_t reply_boundary_ = 0;
  std::vector<uint32_t> unanswered_;  // the request ids xenstored owes a reply
  std::chrono::steady_clock::time_point owed_since_{};
};

}  // namespace uckpt::xen
