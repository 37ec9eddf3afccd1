#include "domain.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "hvm_context.h"
#include "uckpt/core/system_error.h"

namespace uckpt::xen {
namespace {

constexpr uint64_t kPageSize = 4096;

// A frame Xen owns (shared_info, grant frames) or has marked broken, by its
// type from xc_get_pfn_type_batch: never the guest's to have written.
bool xen_owned_type(xen_pfn_t type) {
  const auto kind = static_cast<uint32_t>(type) & XEN_DOMCTL_PFINFO_LTAB_MASK;
  return kind == XEN_DOMCTL_PFINFO_XTAB || kind == XEN_DOMCTL_PFINFO_BROKEN;
}

void discard_message(xentoollog_logger*, xentoollog_level, int, const char*, const char*, va_list) {}
void discard_progress(xentoollog_logger*, const char*, const char*, int, unsigned long, unsigned long) {}
void keep_logger(xentoollog_logger*) {}

}  // namespace

xentoollog_logger* quiet_logger() {
  static xentoollog_logger logger{discard_message, discard_progress, keep_logger};
  return &logger;
}

const char* shutdown_reason_name(unsigned reason) {
  switch (reason) {
    case SHUTDOWN_poweroff: return "poweroff";
    case SHUTDOWN_reboot: return "reboot";
    case SHUTDOWN_suspend: return "suspend";
    case SHUTDOWN_crash: return "crash";
    case SHUTDOWN_watchdog: return "watchdog";
    case SHUTDOWN_soft_reset: return "soft_reset";
    default: return "unknown";
  }
}

const char* to_string(DomainState state) {
  switch (state) {
    case DomainState::Running: return "running";
    case DomainState::Paused: return "paused";
    case DomainState::Shutdown: return "shutdown";
    case DomainState::Crashed: return "crashed";
    case DomainState::Dying: return "dying";
    case DomainState::Gone: return "gone";
  }
  return "unknown";
}

Domain::Domain(uint32_t domid) : domid_(domid) {
  if (domid == 0) throw core::UsageError("attach: domain 0 is the control domain itself and cannot be protected");
  xch_ = xc_interface_open(quiet_logger(), quiet_logger(), 0);
  if (!xch_) {
    int error = errno;
    if (error == ENOENT || error == EACCES || error == EPERM || error == ENODEV) {
      throw core::SystemError(
          "attach: no Xen hypervisor (privcmd) found; this must run in dom0 of a Xen host with the xen-privcmd "
          "module loaded and xenfs mounted on /proc/xen, as root",
          error);
    }
    throw core::SystemError("attach: xc_interface_open", error);
  }
  try {
    DomainInfo d = info();
    if (d.state == DomainState::Gone) throw core::UsageError("attach: there is no domain " + std::to_string(domid));
    if (d.state == DomainState::Dying) throw core::UsageError("attach: domain " + std::to_string(domid) + " is being destroyed");
    if (!d.hvm) {
      throw core::UsageError("attach: domain " + std::to_string(domid) +
                             " is a PV guest: unsupported: Debian's Xen has no shadow paging for PV log-dirty "
                             "(use a PVH or HVM guest)");
    }
    xen_pfn_t max_gpfn = 0;
    if (xc_domain_maximum_gpfn(xch_, domid, &max_gpfn) < 0) fail("attach: xc_domain_maximum_gpfn", errno);
    page_count_ = uint64_t(max_gpfn) + 1;
    fmem_ = xenforeignmemory_open(quiet_logger(), 0);
    if (!fmem_) fail("attach: xenforeignmemory_open", errno);
    // All at once: the first checkpoint reads every frame anyway, and the
    // epoch loop's page lookups then need no lock.
    chunks_.resize((page_count_ + kChunkPages - 1) / kChunkPages);
    for (uint64_t index = 0; index < chunks_.size(); index++) map_chunk(index);
  } catch (...) {
    release_mappings();
    xc_interface_close(xch_);
    throw;
  }
}

Domain::~Domain() {
  disable_log_dirty();
  {
    std::lock_guard<std::mutex> lock(pause_mu_);
    // Never leave the guest paused on our account.
    for (; own_pauses_ > 0; own_pauses_--) xc_domain_unpause(xch_, domid_);
  }
  release_mappings();
  if (dirty_buffer_pages_) xc__hypercall_buffer_free_pages(xch_, &dirty_buffer_, dirty_buffer_pages_);
  xc_interface_close(xch_);
}

void Domain::release_mappings() noexcept {
  for (uint64_t i = 0; i < chunks_.size(); i++) {
    if (chunks_[i].base) xenforeignmemory_unmap(fmem_, chunks_[i].base, chunks_[i].errors.size());
  }
  chunks_.clear();
  if (fmem_) xenforeignmemory_close(fmem_);
  fmem_ = nullptr;
}

void Domain::fail(const char* operation, int error) const {
  // A domain destroyed under us fails calls with ESRCH or, while it dies,
  // EINVAL: say what happened rather than what the call saw.
  xc_dominfo_t raw{};
  int n = xc_domain_getinfo(xch_, domid_, 1, &raw);  // not info(): it may fail() itself
  bool gone = n <= 0 || raw.domid != domid_ || raw.dying;
  if (error == ESRCH || gone) {
    throw core::SystemError(std::string(operation) + ": domain " + std::to_string(domid_) + " no longer exists", error);
  }
  throw core::SystemError(operation, error);
}

DomainInfo Domain::info() const {
  xc_dominfo_t raw{};
  int n = xc_domain_getinfo(xch_, domid_, 1, &raw);
  DomainInfo out{domid_, DomainState::Gone, 0, false, 0, 0, 0};
  // It fails with ESRCH past the last domain, and returns the next one
  // when this one is gone: either way, gone.
  if (n < 0 && errno != ESRCH) fail("xc_domain_getinfo", errno);
  if (n <= 0 || raw.domid != domid_) return out;
  out.hvm = raw.hvm;
  out.nr_pages = raw.nr_pages;
  out.max_memkb = raw.max_memkb;
  out.vcpus = raw.nr_online_vcpus;
  out.shutdown_reason = raw.shutdown_reason;
  if (raw.dying) {
    out.state = DomainState::Dying;
  } else if (raw.crashed || (raw.shutdown && raw.shutdown_reason == SHUTDOWN_crash)) {
    out.state = DomainState::Crashed;
  } else if (raw.shutdown) {
    out.state = DomainState::Shutdown;
  } else if (raw.paused && !only_we_pause()) {
    out.state = DomainState::Paused;
  } else {
    out.state = DomainState::Running;
  }
  return out;
}

void Domain::pause() {
  std::lock_guard<std::mutex> lock(pause_mu_);
  if (own_pauses_ == 0) {
    xc_dominfo_t raw{};
    paused_before_ = xc_domain_getinfo(xch_, domid_, 1, &raw) == 1 && raw.domid == domid_ && raw.paused;
    if (xc_domain_pause(xch_, domid_) < 0) fail("pause: xc_domain_pause", errno);
  }
  own_pauses_++;
}

// Xen has one paused flag for every pauser. While we hold a pause (the
// epoch loop's, a few ms each) the flag says nothing about the others: go
// by how the domain was when our pause began.
bool Domain::only_we_pause() const {
  std::lock_guard<std::mutex> lock(pause_mu_);
  return own_pauses_ > 0 && !paused_before_;
}

void Domain::resume() {
  std::lock_guard<std::mutex> lock(pause_mu_);
  if (own_pauses_ == 0) throw core::UsageError("resume: the domain is not paused by this backend");
  if (own_pauses_ == 1 && xc_domain_unpause(xch_, domid_) < 0) fail("resume: xc_domain_unpause", errno);
  own_pauses_--;
}

unsigned Domain::own_pauses() const {
  std::lock_guard<std::mutex> lock(pause_mu_);
  return own_pauses_;
}

void Domain::enable_log_dirty() {
  if (log_dirty_) return;
  if (xc_shadow_control(xch_, domid_, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, nullptr, 0) < 0) {
    int error = errno;
    if (error == EOPNOTSUPP) {
      throw core::SystemError("log-dirty: unsupported: this Xen cannot track writes of domain " + std::to_string(domid_), error);
    }
    fail("log-dirty: XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY", error);
  }
  log_dirty_ = true;
  if (!dirty_buffer_pages_) {
    int pages = static_cast<int>((page_count_ / 8 + kPageSize - 1) / kPageSize);
    dirty_buffer_ = xc_hypercall_buffer_t{};
    dirty_buffer_.ubuf = reinterpret_cast<void*>(-1);
    if (!xc__hypercall_buffer_alloc_pages(xch_, &dirty_buffer_, pages)) fail("log-dirty: hypercall buffer", errno);
    dirty_buffer_pages_ = pages;
  }
}

void Domain::clean_log_dirty(core::Bitmap& dirty) {
  if (!log_dirty_) throw core::UsageError("log-dirty: not enabled");
  xc_shadow_op_stats_t stats{};
  long long pages =
      xc_logdirty_control(xch_, domid_, XEN_DOMCTL_SHADOW_OP_CLEAN, &dirty_buffer_, page_count_, 0, &stats);
  if (pages < 0) fail("log-dirty: XEN_DOMCTL_SHADOW_OP_CLEAN", errno);
  // Xen's bitmap is unsigned longs, bit per frame: the core's word layout.
  const auto* words = static_cast<const uint64_t*>(dirty_buffer_.hbuf);
  uint64_t n = std::min<uint64_t>(dirty.word_count(), (uint64_t(pages) + 63) / 64);
  for (uint64_t i = 0; i < n; i++) dirty.words()[i] |= words[i];
}

void Domain::disable_log_dirty() noexcept {
  if (!log_dirty_.exchange(false)) return;
  xc_shadow_control(xch_, domid_, XEN_DOMCTL_SHADOW_OP_OFF, nullptr, 0);
}

bool Domain::log_dirty_in_xen() {
  if (log_dirty_) return true;
  if (xc_shadow_control(xch_, domid_, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, nullptr, 0) == 0) {
    xc_shadow_control(xch_, domid_, XEN_DOMCTL_SHADOW_OP_OFF, nullptr, 0);
    return false;
  }
  if (errno == EINVAL) return true;
  fail("log-dirty probe", errno);
}

void Domain::map_chunk(uint64_t index) {
  Chunk& c = chunks_[index];
  uint64_t first = index * kChunkPages;
  uint64_t pages = std::min(kChunkPages, page_count_ - first);
  std::vector<xen_pfn_t> frames(pages);
  for (uint64_t i = 0; i < pages; i++) frames[i] = first + i;
  c.errors.assign(pages, 0);
  void* base = xenforeignmemory_map(fmem_, domid_, PROT_READ | PROT_WRITE, pages, frames.data(), c.errors.data());
  if (!base) fail("attach: xenforeignmemory_map", errno);
  c.base = static_cast<uint8_t*>(base);
}

uint8_t* Domain::page(uint64_t pfn) {
  if (pfn >= page_count_) throw core::UsageError("page: frame " + std::to_string(pfn) + " is beyond the guest's last");
  const Chunk& c = chunks_[pfn / kChunkPages];
  if (int error = c.errors[pfn % kChunkPages]) fail(("map guest frame " + std::to_string(pfn)).c_str(), -error);
  return c.base + (pfn % kChunkPages) * kPageSize;
}

void Domain::populated_pages(core::Bitmap& out) {
  for (uint64_t index = 0; index < chunks_.size(); index++) {
    const Chunk& c = chunks_[index];
    for (uint64_t i = 0; i < c.errors.size(); i++) {
      if (!c.errors[i]) out.set(index * kChunkPages + i);
    }
  }
}

void Domain::xen_owned_pages(core::Bitmap& out) {
  for (uint64_t index = 0; index < chunks_.size(); index++) {
    const Chunk& c = chunks_[index];
    std::vector<xen_pfn_t> frames;
    for (uint64_t i = 0; i < c.errors.size(); i++) {
      if (!c.errors[i]) frames.push_back(index * kChunkPages + i);
    }
    if (frames.empty()) continue;
    // Xen replaces each pfn by its type in place.
    std::vector<xen_pfn_t> types = frames;
    if (xc_get_pfn_type_batch(xch_, domid_, static_cast<unsigned>(types.size()), types.data()) < 0) {
      fail("xc_get_pfn_type_batch", errno);
    }
    for (size_t i = 0; i < frames.size(); i++) {
      if (xen_owned_type(types[i])) out.set(frames[i]);
    }
  }
}

uint64_t Domain::hvm_param(uint32_t param) const {
  uint64_t value = 0;
  if (xc_hvm_param_get(xch_, domid_, param, &value) < 0) fail("xc_hvm_param_get", errno);
  return value;
}

std::vector<uint32_t> Domain::timer_ports() const {
  // Ports are allocated from the bottom; EVTCHNOP_status fails past the
  // last one the domain has.
  constexpr uint32_t kMaxPorts = 4096;  // the 2-level ABI's
  std::vector<uint32_t> ports;
  for (uint32_t port = 1; port < kMaxPorts; port++) {
    xc_evtchn_status_t status{};
    status.dom = static_cast<domid_t>(domid_);
    status.port = port;
    if (xc_evtchn_status(xch_, &status) < 0) break;
    if (status.status == EVTCHNSTAT_virq && status.u.virq == VIRQ_TIMER) ports.push_back(port);
  }
  return ports;
}

uint8_t* Domain::shared_info() {
  xc_dominfo_t raw{};
  if (xc_domain_getinfo(xch_, domid_, 1, &raw) != 1 || raw.domid != domid_) fail("xc_domain_getinfo", errno ? errno : ESRCH);
  // For a translated guest Xen reports the frame's guest number.
  const uint64_t gfn = raw.shared_info_frame;
  if (gfn >= page_count_ || chunks_[gfn / kChunkPages].errors[gfn % kChunkPages]) return nullptr;
  return page(gfn);
}

void Domain::resume_from_shutdown() {
  // For HVM and PVH domains this is XEN_DOMCTL_resumedomain, which asks
  // nothing of the guest.
  if (xc_domain_resume(xch_, domid_, 0) < 0) fail("revive: xc_domain_resume", errno);
  // xenstored marked the domain shut down when Xen told it; without this
  // it would fire @releaseDomain again for a domain that is alive.
  if (xs_handle* xs = xs_open(0)) {
    xs_resume_domain(xs, domid_);
    xs_close(xs);
  }
}

std::vector<VcpuSample> Domain::vcpu_samples() const {
  std::vector<VcpuSample> samples;
  const unsigned vcpus = info().vcpus;
  for (unsigned vcpu = 0; vcpu < vcpus; vcpu++) {
    xc_vcpuinfo_t state{};
    if (xc_vcpu_getinfo(xch_, domid_, vcpu, &state) < 0) fail("xc_vcpu_getinfo", errno);
    VcpuSample sample{vcpu, state.online != 0, state.blocked != 0, state.cpu_time, 0, 0, 0, 0, false};
    if (sample.online) {
      // One vCPU's registers, as xenctx reads them.
      hvm_hw_cpu cpu{};
      if (xc_domain_hvm_getcontext_partial(xch_, domid_, HVM_SAVE_CODE(CPU), static_cast<uint16_t>(vcpu), &cpu, sizeof cpu) < 0) {
        fail("xc_domain_hvm_getcontext_partial (CPU)", errno);
      }
      sample.rip = cpu.rip;
      sample.rsp = cpu.rsp;
      sample.cr3 = cpu.cr3;
      sample.cr4 = cpu.cr4;
      sample.kernel = ((cpu.ss_arbytes >> 5) & 3) == 0;  // SS's DPL is the CPL
    }
    samples.push_back(sample);
  }
  return samples;
}

std::vector<uint8_t> Domain::hvm_context() const {
  int size = xc_domain_hvm_getcontext(xch_, domid_, nullptr, 0);
  if (size < 0) fail("xc_domain_hvm_getcontext (size)", errno);
  std::vector<uint8_t> context(static_cast<size_t>(size));
  int got = xc_domain_hvm_getcontext(xch_, domid_, context.data(), static_cast<uint32_t>(context.size()));
  if (got < 0) fail("xc_domain_hvm_getcontext", errno);
  context.resize(static_cast<size_t>(got));
  return context;
}

uint64_t Domain::flip_register(unsigned vcpu, size_t offset, uint64_t mask) {
  std::vector<uint8_t> context = hvm_context();
  const uint64_t before = xor_cpu_field(context, vcpu, offset, mask);
  set_hvm_context(std::move(context));
  return before;
}

void Domain::crash() {
  if (xc_domain_shutdown(xch_, domid_, SHUTDOWN_crash) < 0) fail("xc_domain_shutdown (crash)", errno);
}

bool Domain::guest_ram(uint64_t pfn) const {
  if (pfn >= page_count_ || chunks_[pfn / kChunkPages].errors[pfn % kChunkPages]) return false;
  xen_pfn_t type = pfn;
  if (xc_get_pfn_type_batch(xch_, domid_, 1, &type) < 0) fail("xc_get_pfn_type_batch", errno);
  return !xen_owned_type(type);
}

void Domain::set_hvm_context(std::vector<uint8_t> context) {
  if (xc_domain_hvm_setcontext(xch_, domid_, context.data(), static_cast<uint32_t>(context.size())) < 0) {
    fail("xc_domain_hvm_setcontext", errno);
  }
}

}  // namespace uckpt::xen
