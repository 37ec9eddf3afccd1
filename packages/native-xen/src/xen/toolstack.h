// What dom0's toolstack knows about the host's domains beyond one domain's
// own state: every domain with its name (kept in xenstore) and type, and a
// domain's xenstore keys. Read-only: the backend never changes a domain's
// configuration.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain.h"

struct xs_handle;

namespace uckpt::xen {

struct DomainSummary {
  uint32_t domid;
  std::string name;  // empty when xenstore has none (e.g. while it is built)
  const char* type;  // "pv", "pvh" or "hvm"
  DomainState state;
  unsigned shutdown_reason;
  uint64_t memory_kb;
  unsigned vcpus;
};

// Every domain Xen has, dom0 included, in domid order.
std::vector<DomainSummary> list_domains();

// One connection to xenstored, read-only.
class Xenstore {
 public:
  Xenstore();
  ~Xenstore();
  Xenstore(const Xenstore&) = delete;
  Xenstore& operator=(const Xenstore&) = delete;

  // The value at `path`, at most `max_bytes` of it; empty when there is
  // none. The guest may write what it likes under its own keys: the value
  // is bounded and returned as bytes, never interpreted here.
  std::optional<std::string> read(const std::string& path, size_t max_bytes = 4096);

 private:
  xs_handle* xs_ = nullptr;
};

}  // namespace uckpt::xen
