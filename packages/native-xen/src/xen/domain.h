// One existing Xen domain seen from dom0: its state, pauses, log-dirty
// tracking, guest pages mapped through xenforeignmemory, and vCPU context.
// It attaches to a domain someone else created and leaves it running, with
// log-dirty off, when it goes.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "uckpt/core/bitmap.h"
#include "xen_api.h"

namespace uckpt::xen {

// How the domain is, as Xen reports it; Paused means paused by someone
// else (its operator, the toolstack), not by this object.
enum class DomainState { Running, Paused, Shutdown, Crashed, Dying, Gone };
const char* to_string(DomainState state);
// "poweroff", "crash", ... for a SHUTDOWN_* code.
const char* shutdown_reason_name(unsigned reason);

struct DomainInfo {
  uint32_t domid;
  DomainState state;
  unsigned shutdown_reason;  // SHUTDOWN_* when state is Shutdown
  bool hvm;                  // HVM or PVH (PV is refused at attach)
  uint64_t nr_pages;
  uint64_t max_memkb;
  unsigned vcpus;
};

// What a vCPU is doing, as Xen sees it: enough to tell a guest that stopped
// running, or runs in one place, from one at work.
struct VcpuSample {
  unsigned vcpu;
  bool online;
  bool blocked;          // waiting for an event (halted)
  uint64_t cpu_time_ns;  // time it has run, all told
  uint64_t rip;          // where it is now (0 when offline)
  uint64_t rsp;
  uint64_t cr3;          // its page tables
  uint64_t cr4;          // LA57 (bit 12) says 5-level paging
  bool kernel;           // at privilege level 0
};

class Domain {
 public:
  // Opens the hypervisor interfaces and checks the domain: it exists, is
  // not dom0, and is HVM or PVH. Throws a clear error otherwise.
  explicit Domain(uint32_t domid);
  ~Domain();
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;

  uint32_t domid() const { return domid_; }
  // Guest frames 0..max_gpfn (holes included).
  uint64_t page_count() const { return page_count_; }
  DomainInfo info() const;

  // Nested: only the first pause and the last resume reach Xen.
  void pause();
  void resume();
  unsigned own_pauses() const;

  // Log-dirty tracking: on, then every clean() reports (ORs into `dirty`)
  // the pages written since the previous one and starts over. Xen pauses
  // the domain itself while it collects the bitmap.
  void enable_log_dirty();
  void clean_log_dirty(core::Bitmap& dirty);
  // Best effort: the domain may be gone. Safe to call twice.
  void disable_log_dirty() noexcept;
  bool log_dirty() const { return log_dirty_; }
  // Whether Xen has log-dirty on for the domain, whoever switched it on:
  // probes by switching it on (refused while on) and off again.
  bool log_dirty_in_xen();

  // The dom0 address of a guest page (every frame is mapped at attach, in
  // chunks, until detach). Throws for a frame the guest does not have.
  uint8_t* page(uint64_t pfn);
  // Every frame that maps, that is every frame the guest has.
  void populated_pages(core::Bitmap& out);

  // Frames of the guest's physmap that are not its RAM: Xen's own
  // (shared_info, grant-table frames) and broken ones. The toolstack's save
  // path skips them (page_type_has_stream_data); restoring one would hand
  // the guest an old copy of Xen's state. Mapped frames only: holes are
  // never copied anyway.
  void xen_owned_pages(core::Bitmap& out);
  // An HVM parameter (HVM_PARAM_*), as the guest or its toolstack set it.
  uint64_t hvm_param(uint32_t param) const;
  // The guest's event-channel ports bound to VIRQ_TIMER, Xen's per-vCPU
  // timer, as Xen reports them.
  std::vector<uint32_t> timer_ports() const;
  // Xen's shared_info page of the domain, where the guest put it in its
  // physmap; null when it has not.
  uint8_t* shared_info();

  // Shuts the domain down as crashed, as a kernel panic does (fault injection).
  void crash();
  // Whether `pfn` is the guest's own RAM: populated, not Xen's, not broken.
  bool guest_ram(uint64_t pfn) const;

  // Clears a shutdown (a crash kept by on_crash="preserve"): the vCPUs run
  // on from where they are once unpaused. Tells xenstored too.
  void resume_from_shutdown();

  // Every vCPU's state, run time and instruction pointer.
  std::vector<VcpuSample> vcpu_samples() const;

  // The whole HVM context (every vCPU's registers, LAPIC, MTRRs, XSAVE...).
  std::vector<uint8_t> hvm_context() const;
  void set_hvm_context(std::vector<uint8_t> context);
  // XORs `mask` into a register of a vCPU (the domain paused); returns its value before.
  uint64_t flip_register(unsigned vcpu, size_t offset, uint64_t mask);

 private:
  static constexpr uint64_t kChunkPages = 1024;
  struct Chunk {
    uint8_t* base = nullptr;
    std::vector<int> errors;  // per page: 0 or -errno from the mapping
  };
  void map_chunk(uint64_t index);
  void release_mappings() noexcept;
  [[noreturn]] void fail(const char* operation, int error) const;
  bool only_we_pause() const;

  uint32_t domid_;
  xc_interface* xch_ = nullptr;
  xenforeignmemory_handle* fmem_ = nullptr;
  uint64_t page_count_ = 0;
  std::atomic<bool> log_dirty_ = false;  // switched off from whichever thread fails

  mutable std::mutex pause_mu_;
  unsigned own_pauses_ = 0;
  bool paused_before_ = false;  // paused by someone else when our first pause began

  std::vector<Chunk> chunks_;  // every frame, mapped at attach

  // The hypercall buffer Xen fills with the log-dirty bitmap (libxenctrl's
  // DECLARE_HYPERCALL_BUFFER, spelled out: its C initializers are not C++).
  xc_hypercall_buffer_t dirty_buffer_{};
  int dirty_buffer_pages_ = 0;
};

}  // namespace uckpt::xen
