// The guest-written half of the mailbox, read by a host that maps the
// guest's page (the KVM VMM, or dom0 under Xen).
#pragma once

#include <cstdint>
#include <string>

#include "uckpt_guest_abi.h"

namespace uckpt {

struct MailboxView {
  uint64_t magic;
  uint64_t status, progress, progress_total, runs_done, result;
  uint64_t exc_vector, exc_error, exc_rip, exc_cr2;
  uint64_t arena_base, arena_bytes, self_checks;
  std::string error;
};

// The guest writes the mailbox while we read it: every field is an aligned
// 64-bit word, so each read is whole, if not consistent with the others.
inline MailboxView read_mailbox(const volatile uckpt_mailbox* mb) {
  MailboxView v{mb->magic,      mb->status,    mb->progress,    mb->progress_total, mb->runs_done,
                mb->result,     mb->exc_vector, mb->exc_error,  mb->exc_rip,        mb->exc_cr2,
                mb->arena_base, mb->arena_bytes, mb->self_checks, {}};
  for (size_t i = 0; i < UCKPT_ERROR_BYTES && mb->error[i]; i++) v.error.push_back(mb->error[i]);
  return v;
}

}  // namespace uckpt
