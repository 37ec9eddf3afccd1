// The uckpt_xen addon: one class, XenDomain, attached to an existing domain.
#include <napi.h>

#include "domain_object.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("XenDomain", uckpt::addon::DomainObject::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(uckpt_xen, Init)
