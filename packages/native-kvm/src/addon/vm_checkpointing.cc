// The checkpointing methods of the JavaScript Vm: the shared checkpoint
// face (native-core/napi) over this VM, with what only KVM knows: its
// defaults, the copy-on-write test hook, dirty tracking and reviving.
#include <algorithm>
#include <vector>

#include "fault_probe.h"
#include "js_args.h"
#include "vm_object.h"

namespace uckpt::addon {

// The dirty-log fault as guests pay it on this host, measured once per
// process (about 5 ms) by booting `image`'s fault probe; 0 where it cannot
// run (no image loaded, or a host without manual dirty-log protection).
static double dirty_log_fault_ns(const std::vector<uint8_t>& image) {
  static double measured = -1;
  if (measured < 0 && !image.empty()) {
    try {
      measured = kvm::measure_dirty_log_fault_ns(image.data(), image.size());
    } catch (const std::exception&) {
      measured = 0;
    }
  }
  return std::max(measured, 0.0);
}

// enableCheckpointing({intervalMs, retention, mode, predictor, storeMiB,
// copyThreads, faultNs, testNoWriteProtect})
Napi::Value VmObject::EnableCheckpointing(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  kvm::Machine& m = machine("enableCheckpointing");
  Napi::Object options = info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
  // Stop-and-copy keeps a shadow of every page the guest touches: the
  // default bound is guest RAM plus half of it for the undo logs. The cost
  // predictor measured best (README: checkpoint modes); it needs dirty
  // tracking that can leave pages writable, so not with dirty rings.
  // The dirty-log fault cost is measured on this host (README: checkpoint modes).
  CheckpointDefaults defaults{m.memory_bytes() * 3 / 2, m.manual_dirty_protect() ? "cost" : "off",
                              dirty_log_fault_ns(image_)};
  checkpointing_.enable(env, options, defaults, {"testNoWriteProtect"}, on_event_.Value(), [&m](const Napi::Object& o) {
    // Test hook: as if the host had no userfaultfd write protection.
    std::string no_write_protect;
    if (o.Has("testNoWriteProtect") && o.Get("testNoWriteProtect").ToBoolean().Value()) {
      no_write_protect = "write protection disabled by the testNoWriteProtect option";
    }
    return std::make_unique<kvm::KvmBackend>(m, no_write_protect);
  });
  return env.Undefined();
}

Napi::Value VmObject::DisableCheckpointing(const Napi::CallbackInfo& info) {
  machine("disableCheckpointing");
  Napi::Object off = Napi::Object::New(info.Env());
  off.Set("enabled", false);
  checkpointing_.configure(info.Env(), off, "disableCheckpointing");
  return info.Env().Undefined();
}

Napi::Value VmObject::ConfigureCheckpointing(const Napi::CallbackInfo& info) {
  machine("configureCheckpointing");
  checkpointing_.configure(info.Env(), info[0], "configureCheckpointing");
  return info.Env().Undefined();
}

Napi::Value VmObject::CheckpointNow(const Napi::CallbackInfo& info) {
  machine("checkpointNow");
  return checkpointing_.checkpoint_now(info.Env());
}

// rollback(seq | "latest"): `revived` is how the run had ended when the
// rollback brought a crashed or failed VM back to life, null otherwise.
Napi::Value VmObject::Rollback(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  kvm::VmState state = machine("rollback").state();
  if (state != kvm::VmState::Running && state != kvm::VmState::Paused && state != kvm::VmState::Crashed &&
      state != kvm::VmState::Failed) {
    throw Napi::Error::New(env, std::string("rollback: the VM is ") + kvm::to_string(state) +
                                    ", it must be running or paused (or crashed or failed, to revive it)");
  }
  // The settling runs on the JavaScript thread, where destroy() also runs:
  // `self` keeps this object alive, and machine_ is checked there.
  auto self = std::make_shared<Napi::ObjectReference>(Napi::Persistent(info.This().As<Napi::Object>()));
  return checkpointing_.rollback(env, info[0], [self, this](Napi::Env env, Napi::Object& o, bool revived) {
    if (!revived || !machine_) return;
    events_.Ref(env);  // running again: like start(), the VM keeps the process alive
    o.Set("revived", exit_to_js(env, machine_->revived_from()));
    o.Set("run", Napi::Number::New(env, static_cast<double>(machine_->run())));
  });
}

Napi::Value VmObject::ListCheckpoints(const Napi::CallbackInfo& info) {
  machine("listCheckpoints");
  return checkpointing_.list(info.Env());
}

Napi::Value VmObject::CheckpointStats(const Napi::CallbackInfo& info) {
  kvm::Machine& m = machine("checkpointStats");
  Napi::Object o = checkpointing_.stats(info.Env());
  o.Set("dirtyTracking", m.dirty_tracking() == kvm::DirtyTracking::Ring ? "ring"
                         : m.manual_dirty_protect()                   ? "manual-protect"
                                                                      : "get-and-clear");
  return o;
}

Napi::Value VmObject::TestCorruptStoredPage(const Napi::CallbackInfo& info) {
  machine("testCorruptStoredPage");
  checkpointing_.corrupt_for_test(info.Env(), info);
  return info.Env().Undefined();
}

}  // namespace uckpt::addon
