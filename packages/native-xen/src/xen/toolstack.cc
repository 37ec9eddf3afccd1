#include "toolstack.h"

#include <cerrno>
#include <cstdlib>

#include "uckpt/core/system_error.h"
#include "xen_api.h"

namespace uckpt::xen {
namespace {

constexpr unsigned kMaxDomains = 1024;

DomainState state_of(const xc_domaininfo_t& d) {
  if (d.flags & XEN_DOMINF_dying) return DomainState::Dying;
  const unsigned reason = (d.flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
  if (d.flags & XEN_DOMINF_shutdown) return reason == SHUTDOWN_crash ? DomainState::Crashed : DomainState::Shutdown;
  if (d.flags & XEN_DOMINF_paused) return DomainState::Paused;
  return DomainState::Running;
}

// PVH is an HVM container without the emulated legacy devices.
const char* type_of(const xc_domaininfo_t& d) {
  if (!(d.flags & XEN_DOMINF_hvm_guest)) return "pv";
  return (d.arch_config.emulation_flags & XEN_X86_EMU_PIC) ? "hvm" : "pvh";
}
}  // namespace

std::vector<DomainSummary> list_domains() {
  xc_interface* xch = xc_interface_open(quiet_logger(), quiet_logger(), 0);
  if (!xch) {
    throw core::SystemError("list domains: no Xen hypervisor (privcmd) found; this must run in dom0 as root", errno);
  }
  std::vector<xc_domaininfo_t> raw(kMaxDomains);
  const int n = xc_domain_getinfolist(xch, 0, kMaxDomains, raw.data());
  const int error = errno;
  xc_interface_close(xch);
  if (n < 0) throw core::SystemError("list domains: xc_domain_getinfolist", error);

  Xenstore xenstore;
  std::vector<DomainSummary> out;
  for (int i = 0; i < n; i++) {
    const xc_domaininfo_t& d = raw[static_cast<size_t>(i)];
    const std::string home = "/local/domain/" + std::to_string(d.domain);
    out.push_back(DomainSummary{
        d.domain,
        xenstore.read(home + "/name", 256).value_or(""),
        type_of(d),
        state_of(d),
        (d.flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask,
        static_cast<uint64_t>(d.tot_pages) * 4,
        d.nr_online_vcpus,
    });
  }
  return out;
}

Xenstore::Xenstore() {
  xs_ = xs_open(XS_OPEN_READONLY);
  if (!xs_) throw core::SystemError("xenstore: cannot reach xenstored (xs_open)", errno);
}

Xenstore::~Xenstore() { xs_close(xs_); }

std::optional<std::string> Xenstore::read(const std::string& path, size_t max_bytes) {
  unsigned int length = 0;
  void* value = xs_read(xs_, XBT_NULL, path.c_str(), &length);
  if (!value) return std::nullopt;
  std::string out(static_cast<const char*>(value), std::min<size_t>(length, max_bytes));
  free(value);
  return out;
}

}  // namespace uckpt::xen
