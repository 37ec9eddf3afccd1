// Module entry: exports the Vm class and the engine's defaults it reports.
#include <napi.h>

#include "uckpt/core/checkpoint_config.h"
#include "vm_object.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Vm", uckpt::addon::VmObject::Define(env));
  exports.Set("defaultCopyThreads", Napi::Number::New(env, uckpt::core::default_copy_threads()));
  return exports;
}

}  // namespace

NODE_API_MODULE(uckpt_kvm, Init)
