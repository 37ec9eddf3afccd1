// XenstoreExchange against a xenstore ring page played by hand: the guest's
// side and xenstored's, byte by byte as Linux and xenstored write them.
#include <array>
#include <chrono>
#include <cstring>
#include <thread>

#include "check.h"
#include "xen/xen_api.h"
#include "xen/xenstore_exchange.h"

using uckpt::xen::XenstoreExchange;

namespace {

class Ring {
 public:
  Ring() { page_.fill(0); }
  const uint8_t* page() const { return page_.data(); }
  xenstore_domain_interface& intf() { return *reinterpret_cast<xenstore_domain_interface*>(page_.data()); }

  // The guest writes a request: its header, then (as Linux may, separately)
  // its body. Returns the request's id.
  uint32_t send_header(uint32_t type, uint32_t len) {
    put(intf().req, intf().req_prod, header(type, ++last_id_, len));
    return last_id_;
  }
  void send_body(uint32_t len) { put(intf().req, intf().req_prod, std::string(len, 'r')); }
  uint32_t send(uint32_t type, uint32_t len) {
    const uint32_t id = send_header(type, len);
    send_body(len);
    return id;
  }
  // xenstored consumes all the guest sent.
  void consume() { intf().req_cons = intf().req_prod; }
  // xenstored writes a reply (echoing its request's id) or a watch event;
  // the guest reads all of it.
  void reply(uint32_t type, uint32_t id, uint32_t len) {
    put(intf().rsp, intf().rsp_prod, header(type, id, len) + std::string(len, 'a'));
  }
  void read() { intf().rsp_cons = intf().rsp_prod; }

 private:
  static std::string header(uint32_t type, uint32_t id, uint32_t len) {
    const xsd_sockmsg h{type, id, 0, len};
    return std::string(reinterpret_cast<const char*>(&h), sizeof h);
  }
  uint32_t last_id_ = 100;
  static void put(char* ring, XENSTORE_RING_IDX& prod, const std::string& bytes) {
    for (char c : bytes) ring[MASK_XENSTORE_IDX(prod++)] = c;
  }
  std::array<uint8_t, 4096> page_;
};

// The first look only finds a boundary to frame from: never idle.
void framed(XenstoreExchange& exchange, const Ring& ring) {
  CHECK(!exchange.idle(ring.page()));
  CHECK(exchange.idle(ring.page()));
}

}  // namespace

TEST("idle only between conversations: a half-sent request, one consumed but unanswered, an unread reply are not") {
  Ring ring;
  XenstoreExchange exchange;
  framed(exchange, ring);
  const uint32_t id = ring.send_header(XS_WRITE, 40);
  ring.consume();  // xenstored read the header; the body is still to come
  CHECK(!exchange.idle(ring.page()));
  ring.send_body(40);
  CHECK(!exchange.idle(ring.page()));  // not consumed
  ring.consume();
  CHECK(!exchange.idle(ring.page()));  // consumed, not answered: the rings look empty
  ring.reply(XS_WRITE, id, 3);
  CHECK(!exchange.idle(ring.page()));  // answered, not read
  ring.read();
  CHECK(exchange.idle(ring.page()));
}

TEST("watch events are not replies; messages that wrap around the ring's end are framed") {
  Ring ring;
  XenstoreExchange exchange;
  framed(exchange, ring);
  for (int i = 0; i < 40; i++) {  // 40 x 70 bytes: wraps both rings a few times
    const uint32_t id = ring.send(XS_READ, 54);
    ring.consume();
    ring.reply(XS_WATCH_EVENT, 0, 30);
    ring.read();
    CHECK(!exchange.idle(ring.page()));  // the event is no answer to the read
    ring.reply(XS_READ, id, 54);
    ring.read();
    CHECK(exchange.idle(ring.page()));
  }
}

TEST("a ring that moved more than its size between two looks is framed again from an empty moment") {
  Ring ring;
  XenstoreExchange exchange;
  framed(exchange, ring);
  for (int i = 0; i < 20; i++) ring.reply(XS_WRITE, ring.send(XS_WRITE, 100), 3), ring.consume(), ring.read();
  CHECK(!exchange.idle(ring.page()));  // lost: assumes a boundary again
  CHECK(exchange.idle(ring.page()));
  ring.send_header(XS_WRITE, 0xffffff);  // no xenstore message is this long
  CHECK(!exchange.idle(ring.page()));
}

TEST("framed again after a rollback: a reply to a request from before counts for nothing; a reply owed over a second is given up") {
  Ring ring;
  XenstoreExchange exchange;
  framed(exchange, ring);
  exchange.restart();
  framed(exchange, ring);
  // Framing began where xenstored was about to answer a request.
  ring.reply(XS_WRITE, 7, 3);
  ring.read();
  const uint32_t id = ring.send(XS_READ, 20);
  ring.consume();
  CHECK(!exchange.idle(ring.page()));  // the read is owed its reply
  ring.reply(XS_READ, id, 5);
  ring.read();
  CHECK(exchange.idle(ring.page()));
  ring.send(XS_READ, 20);
  ring.consume();
  CHECK(!exchange.idle(ring.page()));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(exchange.idle(ring.page()));  // never answered: given up
}

int main() { return check::run_all(); }
