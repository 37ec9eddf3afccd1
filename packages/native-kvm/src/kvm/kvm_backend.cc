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

void KvmBackend::restore_vcpus(const core::VcpuSnapshot& snapshot) {
  machine_.restore_vcpus(static_cast<const KvmVcpus&>(snapshot).states);
}

}  // namespace uckpt::kvm
