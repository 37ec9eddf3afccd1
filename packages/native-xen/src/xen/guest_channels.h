// What a PVH guest shares with Xen and dom0's daemons outside log-dirty's
// sight, and what a rollback must do about it for the guest (Linux above
// all) to carry on. Facts from Xen 4.17's and Linux 6.1's sources:
//
// - Frames Xen owns (shared_info, grant-table frames) sit in the guest's
//   physmap: never copied, never restored.
// - xenstored and xenconsoled write the xenstore and console rings through
//   grant mappings that stay mapped, which log-dirty never sees: those
//   pages are compared at every checkpoint and copied when they changed.
//   A checkpoint is taken only while the guest and xenstored are between
//   conversations (xenstore_exchange.h). Console output in flight is fine:
//   restored with both its indexes, it is printed twice at worst. A
//   rollback first waits for the daemons to finish what they read, so that
//   neither sees its ring's indexes move under it.
// - Xen's per-vCPU timer is in no save record, and only the vCPU may set
//   it. Seen in the rig: rolled back to before its last timer event, Linux
//   waits for an event Xen already delivered, with no timer armed in Xen,
//   and its vCPU halts for good. And each vCPU's vcpu_info (in guest RAM,
//   where Linux registered it; Xen does not say where) holds the event
//   selector bits, which Xen sets only on a port's 0->1 change: restored
//   from an older copy, it can leave a pending port never raised again.
//   After a rollback every VIRQ_TIMER port is marked pending in shared_info
//   and each vCPU's upcall vector raised with an MSI, which also wakes a
//   halted vCPU: Linux's handler checks the timer's port whatever the
//   selector says, runs its expired timers and arms Xen's timer again; the
//   next timer event sets the selector of word 0 again, where a small
//   guest's other ports are. Only for guests that asked for upcalls
//   (HVM_PARAM_CALLBACK_IRQ set), a spurious timer event at worst.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "domain.h"
#include "xenstore_exchange.h"
#include "uckpt/core/bitmap.h"

struct xendevicemodel_handle;

namespace uckpt::xen {

class GuestChannels {
 public:
  // Reads the ring parameters and the physmap's page types.
  explicit GuestChannels(Domain& domain);
  ~GuestChannels();
  GuestChannels(const GuestChannels&) = delete;
  GuestChannels& operator=(const GuestChannels&) = delete;

  // Frames that are Xen's, never to be copied or restored.
  const core::Bitmap& xen_owned() const { return xen_owned_; }
  // Paused: marks in `dirty` the ring pages that changed since the last
  // call (written behind log-dirty's back, by the daemons or the guest).
  void mark_changed_rings(core::Bitmap& dirty);

  // Paused: whether the guest and xenstored are between conversations.
  bool xenstore_idle();
  // Paused, after a rollback restored memory and vCPUs: the xenstore ring
  // is the checkpoint's again; a timer event and an upcall for every vCPU,
  // if the guest uses upcalls.
  void after_restore();
  // Paused, before a rollback: waits until the daemons have consumed what
  // the guest sent and have not touched the rings for a moment, at most
  // `bound_ms`. Returns false when they were still busy at the bound.
  bool wait_for_daemons(unsigned bound_ms);

 private:
  struct Ring {
    uint64_t pfn;
    size_t indexes;  // offset of its four 32-bit indexes: cons, prod, cons, prod
    int daemon_cons;  // which of them the daemon advances as it consumes (the other pair is the guest's)
    std::array<uint8_t, 4096> seen{};  // as the last mark_changed_rings() saw it
  };
  // The index `i` (0..3) of a ring.
  uint32_t index(const Ring& ring, int i);
  void redeliver_events();

  Domain& domain_;
  xendevicemodel_handle* devicemodel_ = nullptr;
  core::Bitmap xen_owned_;
  std::vector<Ring> rings_;  // the xenstore ring, then the console's, where the guest has them
  uint64_t store_pfn_ = 0;   // the xenstore ring's, 0 when the guest has none
  XenstoreExchange store_exchange_;
};

}  // namespace uckpt::xen
