// The JavaScript face of one attached Xen domain. One instance per domain,
// no process-wide state; checkpointing is the shared face of the core.
#pragma once

#include <napi.h>

#include <memory>

#include "checkpointing_js.h"
#include "xen/domain.h"
#include "xen/toolstack.h"
#include "xen/xen_backend.h"

namespace uckpt::addon {

// listDomains(): [{domid, name, type, state, shutdownReason, memoryKb, vcpus}]
Napi::Value ListDomains(const Napi::CallbackInfo& info);

class DomainObject : public Napi::ObjectWrap<DomainObject> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit DomainObject(const Napi::CallbackInfo& info);
  ~DomainObject() override;

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Vcpus(const Napi::CallbackInfo& info);
  Napi::Value FlipRegister(const Napi::CallbackInfo& info);
  Napi::Value Crash(const Napi::CallbackInfo& info);
  Napi::Value GuestRam(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value ReadMemory(const Napi::CallbackInfo& info);
  Napi::Value WriteMemory(const Napi::CallbackInfo& info);
  Napi::Value Mailbox(const Napi::CallbackInfo& info);
  Napi::Value ReadXenstore(const Napi::CallbackInfo& info);
  Napi::Value Detach(const Napi::CallbackInfo& info);

  Napi::Value EnableCheckpointing(const Napi::CallbackInfo& info);
  Napi::Value ConfigureCheckpointing(const Napi::CallbackInfo& info);
  Napi::Value CheckpointNow(const Napi::CallbackInfo& info);
  Napi::Value Rollback(const Napi::CallbackInfo& info);
  Napi::Value ListCheckpoints(const Napi::CallbackInfo& info);
  Napi::Value CheckpointStats(const Napi::CallbackInfo& info);
  Napi::Value TestCorruptStoredPage(const Napi::CallbackInfo& info);
  Napi::Value TestLogDirtyInXen(const Napi::CallbackInfo& info);

  xen::Domain& domain(const char* operation);

  std::unique_ptr<xen::Domain> domain_;
  std::unique_ptr<xen::Xenstore> xenstore_;  // opened at the first readXenstore()
  Napi::FunctionReference on_event_;
  // Declared last: the epoch loop stops before the domain handle goes.
  CheckpointingJs checkpointing_;
};

}  // namespace uckpt::addon
