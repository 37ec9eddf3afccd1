// The JavaScript face of one KVM VM. One instance per VM, no process-wide
// state; the native threads reach JavaScript only through a thread-safe
// function, never by blocking on it.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "checkpointing_js.h"
#include "kvm/kvm_backend.h"
#include "kvm/machine.h"

namespace uckpt::addon {

// {reason, message, vcpu, run, result (when done)}
Napi::Object exit_to_js(Napi::Env env, const kvm::ExitInfo& exit);

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
  Napi::Value JoinEndedRun(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value ReadMemory(const Napi::CallbackInfo& info);
  Napi::Value WriteMemory(const Napi::CallbackInfo& info);
  Napi::Value GetVcpuState(const Napi::CallbackInfo& info);
  Napi::Value SetVcpuState(const Napi::CallbackInfo& info);
  Napi::Value Mailbox(const Napi::CallbackInfo& info);
  Napi::Value State(const Napi::CallbackInfo& info);
  Napi::Value ExitInfo(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);

  // Checkpointing (vm_checkpointing.cc).
  Napi::Value EnableCheckpointing(const Napi::CallbackInfo& info);
  Napi::Value DisableCheckpointing(const Napi::CallbackInfo& info);
  Napi::Value ConfigureCheckpointing(const Napi::CallbackInfo& info);
  Napi::Value CheckpointNow(const Napi::CallbackInfo& info);
  Napi::Value Rollback(const Napi::CallbackInfo& info);
  Napi::Value ListCheckpoints(const Napi::CallbackInfo& info);
  Napi::Value CheckpointStats(const Napi::CallbackInfo& info);
  Napi::Value TestCorruptStoredPage(const Napi::CallbackInfo& info);

  kvm::Machine& machine(const char* operation);
  void release_events();

  std::unique_ptr<kvm::Machine> machine_;
  std::vector<uint8_t> image_;  // as loaded: the dirty-log fault probe boots it too
  Napi::FunctionReference on_event_;
  Napi::ThreadSafeFunction events_;
  bool events_live_ = false;
  CheckpointingJs checkpointing_;
};

}  // namespace uckpt::addon
