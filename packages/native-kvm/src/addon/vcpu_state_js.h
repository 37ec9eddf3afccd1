// vCPU state <-> JavaScript: registers as BigInts, segments as objects, and
// the opaque blocks (FPU, XSAVE, events) as Buffers.
#pragma once

#include <napi.h>

#include "kvm/vcpu_state.h"

namespace uckpt::addon {

Napi::Object vcpu_state_to_js(Napi::Env env, const kvm::VcpuState& state);
// Overlays the parts present in `js` onto `state`; throws on malformed input.
void vcpu_state_from_js(const Napi::Object& js, kvm::VcpuState& state);

}  // namespace uckpt::addon
