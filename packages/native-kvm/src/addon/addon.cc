// Module entry: exports the Vm class.
#include <napi.h>

#include "vm_object.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Vm", uckpt::addon::VmObject::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(uckpt_kvm, Init)
