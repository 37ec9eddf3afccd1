// The JavaScript face of one KVM VM. One instance per VM, no process-wide
// state; the native threads reach JavaScript only through a thread-safe
// function, never by blocking on it.
#pragma once

#include <napi.h>

#include <memory>

#include "kvm/machine.h"

namespace uckpt::addon {

class VmObject : public Napi::ObjectWrap<VmObject> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit VmObject(const Napi::CallbackInfo& info);
  ~VmObject() override;

 private:
  Napi::Value LoadImage(const Napi::CallbackInfo& info);
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value ReadMemory(const Napi::CallbackInfo& info);
  Napi::Value WriteMemory(const Napi::CallbackInfo& info);
  Napi::Value GetVcpuState(const Napi::CallbackInfo& info);
  Napi::Value SetVcpuState(const Napi::CallbackInfo& info);
  Napi::Value Mailbox(const Napi::CallbackInfo& info);
  Napi::Value State(const Napi::CallbackInfo& info);
  Napi::Value ExitInfo(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);

  kvm::Machine& machine(const char* operation);
  void release_events();

  std::unique_ptr<kvm::Machine> machine_;
  Napi::ThreadSafeFunction events_;
  bool events_live_ = false;
};

}  // namespace uckpt::addon
