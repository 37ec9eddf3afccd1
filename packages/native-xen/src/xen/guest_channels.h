// What a PVH guest shares with Xen and dom0's daemons outside log-dirty's
// sight, and what a rollback must do about it for the guest (Linux above
// all) to carry on. Facts from Xen 4.17's and Linux 6.1's sources:
//
// - Frames Xen owns (shared_info, grant-table frames) sit in the guest's
//   physmap: never copied, never restored.
// - xenstored and xenconsoled write the xenstore and console rings through
//   grant mappings that stay mapped, which log-dirty never sees: those
//   pages are copied at every checkpoint. A checkpoint is taken only while
//   both rings are quiescent (no request or output in flight), and a
//   rollback first waits for the daemons to finish what they read, so
//   that neither sees its ring's indexes move under it.
// - Not handled yet: each vCPU's vcpu_info (in the guest's RAM, where
//   Linux registered it; Xen does not say where) holds the event selector
//   bits, which Xen sets only on a port's 0->1 change, so restoring an
//   older copy can leave a port pending and never delivered again (see
//   packages/native-xen/README.md for what was tried).
#pragma once

#include <cstdint>

#include "domain.h"
#include "uckpt/core/bitmap.h"

namespace uckpt::xen {

class GuestChannels {
 public:
  // Reads the ring parameters and the physmap's page types.
  explicit GuestChannels(Domain& domain);
  GuestChannels(const GuestChannels&) = delete;
  GuestChannels& operator=(const GuestChannels&) = delete;

  // Frames that are Xen's, never to be copied or restored.
  const core::Bitmap& xen_owned() const { return xen_owned_; }
  // Frames written behind log-dirty's back, to copy at every checkpoint.
  const core::Bitmap& always_copied() const { return always_copied_; }

  // Paused: whether no request or output is in flight on either ring.
  bool rings_quiescent();
  // Paused, before a rollback: waits until the daemons have consumed what
  // the guest sent and have not touched the rings for a moment, at most
  // `bound_ms`. Returns false when they were still busy at the bound.
  bool wait_for_daemons(unsigned bound_ms);

 private:
  // The ring's page, or null when the guest has none.
  uint8_t* ring(uint64_t pfn);

  Domain& domain_;
  core::Bitmap xen_owned_;
  core::Bitmap always_copied_;
  uint64_t store_pfn_ = 0;
  uint64_t console_pfn_ = 0;
};

}  // namespace uckpt::xen
