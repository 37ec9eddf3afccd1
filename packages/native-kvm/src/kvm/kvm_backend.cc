#include "kvm_backend.h"

namespace uckpt::kvm {
namespace {

struct KvmVcpus : core::VcpuSnapshot {
  std::vector<VcpuState> states;
};

}  // namespace

core::Backend::GuestState KvmBackend::guest_state() const {
  switch (machine_.state()) {
    case VmState::Running: return GuestState::Running;
    case VmState::Paused: return GuestState::Paused;
    default: return GuestState::Ended;
  }
}

std::unique_ptr<core::VcpuSnapshot> KvmBackend::capture_vcpus() {
  auto snapshot = std::make_unique<KvmVcpus>();
  snapshot->states = machine_.capture_vcpus();
  return snapshot;
}

std::string KvmBackend::write_protect_unavailable() {
  if (!unavailable_.empty() || probed_) return unavailable_;
  probed_ = true;
  try {
    wp_ = std::make_unique<UserfaultWriteProtect>(machine_.ram(), machine_.memory_bytes());
    cost_ = UserfaultWriteProtect::measure();
  } catch (const std::exception& e) {
    wp_.reset();
    unavailable_ = e.what();
  }
  return unavailable_;
}

void KvmBackend::start_write_protect() {
  if (!write_protect_unavailable().empty()) throw std::runtime_error(unavailable_);
  if (!wp_ || wp_->stopped()) {
    wp_.reset();
    wp_ = std::make_unique<UserfaultWriteProtect>(machine_.ram(), machine_.memory_bytes());
  }
}

// The handler thread may still be in next_write_fault(): the object stays
// until the next start or the backend goes.
void KvmBackend::stop_write_protect() {
  if (wp_) wp_->stop();
}

void KvmBackend::restore_vcpus(const core::VcpuSnapshot& snapshot) {
  machine_.restore_vcpus(static_cast<const KvmVcpus&>(snapshot).states);
}

}  // namespace uckpt::kvm
