// The uckpt_xen addon: one class, XenDomain, attached to an existing
// domain, and listDomains(), what the host has.
#include <napi.h>

#include "domain_object.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("XenDomain", uckpt::addon::DomainObject::Define(env));
  exports.Set("listDomains", Napi::Function::New(env, uckpt::addon::ListDomains, "listDomains"));
  return exports;
}

}  // namespace

NODE_API_MODULE(uckpt_xen, Init)
