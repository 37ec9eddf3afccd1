#include "vm_object.h"

#include <cstring>
#include <string>

#include "js_args.h"
#include "mailbox_js.h"
#include "kvm/system_error.h"
#include "uckpt_guest_abi.h"
#include "vcpu_state_js.h"

namespace uckpt::addon {
namespace {

using kvm::Machine;

constexpr size_t kEventQueue = 1024;
constexpr uint64_t kMaxTransfer = 256ULL << 20;  // per readMemory/writeMemory call

// Heap-allocated on a vCPU thread, consumed (and freed) on the JS thread.
void deliver_event(Napi::Env env, Napi::Function callback, Machine::Event* event) {
  std::unique_ptr<Machine::Event> owned(event);
  if (!env || !callback) return;
  deliver_safely([&] {
    Napi::Object o = Napi::Object::New(env);
    if (event->kind == Machine::Event::Kind::Console) {
      o.Set("type", "console");
      o.Set("text", event->text);
    } else {
      o.Set("type", "state");
      o.Set("state", kvm::to_string(event->state));
      if (!event->exit.reason.empty()) o.Set("exit", exit_to_js(env, event->exit));
    }
    callback.Call({o});
  });
}

}  // namespace

Napi::Object exit_to_js(Napi::Env env, const kvm::ExitInfo& exit) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("reason", exit.reason);
  o.Set("message", exit.message);
  o.Set("vcpu", exit.vcpu);
  o.Set("run", exit.run);
  if (exit.reason == "done") o.Set("result", Napi::BigInt::New(env, exit.result));
  return o;
}

Napi::Function VmObject::Define(Napi::Env env) {
  return DefineClass(env, "Vm",
                     {
                         InstanceMethod<&VmObject::LoadImage>("loadImage"),
                         InstanceMethod<&VmObject::Start>("start"),
                         InstanceMethod<&VmObject::Pause>("pause"),
                         InstanceMethod<&VmObject::Resume>("resume"),
                         InstanceMethod<&VmObject::Stop>("stop"),
                         InstanceMethod<&VmObject::JoinEndedRun>("joinEndedRun"),
                         InstanceMethod<&VmObject::Destroy>("destroy"),
                         InstanceMethod<&VmObject::ReadMemory>("readMemory"),
                         InstanceMethod<&VmObject::WriteMemory>("writeMemory"),
                         InstanceMethod<&VmObject::GetVcpuState>("getVcpuState"),
                         InstanceMethod<&VmObject::SetVcpuState>("setVcpuState"),
                         InstanceMethod<&VmObject::Mailbox>("mailbox"),
                         InstanceMethod<&VmObject::State>("state"),
                         InstanceMethod<&VmObject::ExitInfo>("exitInfo"),
                         InstanceMethod<&VmObject::Info>("info"),
                         InstanceMethod<&VmObject::EnableCheckpointing>("enableCheckpointing"),
                         InstanceMethod<&VmObject::DisableCheckpointing>("disableCheckpointing"),
                         InstanceMethod<&VmObject::ConfigureCheckpointing>("configureCheckpointing"),
                         InstanceMethod<&VmObject::CheckpointNow>("checkpointNow"),
                         InstanceMethod<&VmObject::Rollback>("rollback"),
                         InstanceMethod<&VmObject::ListCheckpoints>("listCheckpoints"),
                         InstanceMethod<&VmObject::CheckpointStats>("checkpointStats"),
                         InstanceMethod<&VmObject::TestCorruptStoredPage>("testCorruptStoredPage"),
                     });
}

// new Vm(memoryMiB, vcpus, onEvent, {dirtyTracking: "bitmap" | "ring"})
VmObject::VmObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VmObject>(info) {
  Napi::Env env = info.Env();
  uint64_t memory_mib = uint_arg(info, 0, "create", "memoryMiB", UINT32_MAX);
  uint64_t vcpus = uint_arg(info, 1, "create", "vcpus", 1024);
  if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "create: onEvent must be a function");
  kvm::DirtyTracking tracking = kvm::DirtyTracking::Bitmap;
  if (info[3].IsObject() && info[3].As<Napi::Object>().Has("dirtyTracking")) {
    Napi::Value v = info[3].As<Napi::Object>().Get("dirtyTracking");
    std::string name = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
    if (name == "ring") {
      tracking = kvm::DirtyTracking::Ring;
    } else if (name != "bitmap" && !v.IsUndefined()) {
      throw Napi::TypeError::New(env, "create: dirtyTracking must be \"bitmap\" or \"ring\"");
    }
  }

  on_event_ = Napi::Persistent(info[2].As<Napi::Function>());
  events_ = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "uckpt-kvm-events", kEventQueue, 1);
  events_.Unref(env);  // only a running VM keeps the process alive
  events_live_ = true;
  Napi::ThreadSafeFunction events = events_;
  auto sink = [events](Machine::Event event) mutable {
    auto* copy = new Machine::Event(std::move(event));
    if (events.NonBlockingCall(copy, deliver_event) != napi_ok) delete copy;  // full or closing: dropped
  };
  guarded(env, [&] {
    machine_ = std::make_unique<Machine>(memory_mib, static_cast<unsigned>(vcpus), tracking, sink);
    return env.Undefined();
  });
}

VmObject::~VmObject() {
  checkpointing_.stop();
  machine_.reset();  // joins the vCPU threads before the event channel goes
  release_events();
}

void VmObject::release_events() {
  if (events_live_) {
    events_.Release();
    events_live_ = false;
  }
}

Machine& VmObject::machine(const char* operation) {
  if (!machine_) throw Napi::Error::New(Env(), std::string(operation) + ": the VM is destroyed");
  return *machine_;
}

// loadImage(elf: Buffer, params: {workload, seed, size, param, repeat})
Napi::Value VmObject::LoadImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "loadImage: image must be a Buffer");
  if (!info[1].IsObject()) throw Napi::TypeError::New(env, "loadImage: params must be an object");
  auto elf = info[0].As<Napi::Buffer<uint8_t>>();
  Napi::Object p = info[1].As<Napi::Object>();
  kvm::BootParams params;
  params.workload = uint_field(p, "workload", 0, "loadImage");
  params.seed = uint_field(p, "seed", 1, "loadImage");
  params.size = uint_field(p, "size", 0, "loadImage");
  params.param = uint_field(p, "param", 0, "loadImage");
  params.repeat = uint_field(p, "repeat", 1, "loadImage");
  return guarded(env, [&] {
    kvm::ImageInfo image = machine("loadImage").load_image(elf.Data(), elf.Length(), params);
    image_.assign(elf.Data(), elf.Data() + elf.Length());
    Napi::Object o = Napi::Object::New(env);
    o.Set("imageEnd", Napi::Number::New(env, static_cast<double>(image.image_end)));
    o.Set("pvhEntry", Napi::Boolean::New(env, image.pvh_entry));
    auto range = [&](uint64_t start, uint64_t end) {
      Napi::Object r = Napi::Object::New(env);
      r.Set("start", Napi::Number::New(env, static_cast<double>(start)));
      r.Set("end", Napi::Number::New(env, static_cast<double>(end)));
      return r;
    };
    o.Set("code", range(image.code_start, image.code_end));
    o.Set("stack", range(image.stack_start, image.stack_end));
    o.Set("scratch", range(UCKPT_SCRATCH_GPA, UCKPT_SCRATCH_GPA + UCKPT_SCRATCH_BYTES));
    return o;
  });
}

Napi::Value VmObject::Start(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    machine("start").start();
    events_.Ref(info.Env());
    return info.Env().Undefined();
  });
}

Napi::Value VmObject::Pause(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    machine("pause").pause();
    return info.Env().Undefined();
  });
}

Napi::Value VmObject::Resume(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    machine("resume").resume();
    return info.Env().Undefined();
  });
}

Napi::Value VmObject::Stop(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    machine("stop").stop();
    events_.Unref(info.Env());
    return info.Env().Undefined();
  });
}

// joinEndedRun(): boolean. After a run ended, joins its parked vCPU threads
// and lets the process exit; false when it runs again (a rollback revived it).
Napi::Value VmObject::JoinEndedRun(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    bool joined = machine("joinEndedRun").join_ended_run();
    if (joined) events_.Unref(info.Env());
    return Napi::Boolean::New(info.Env(), joined);
  });
}

Napi::Value VmObject::Destroy(const Napi::CallbackInfo& info) {
  if (machine_) {
    checkpointing_.stop();
    machine_.reset();
    events_.Unref(info.Env());
    release_events();
  }
  return info.Env().Undefined();
}

// readMemory(gpa, length): Buffer
Napi::Value VmObject::ReadMemory(const Napi::CallbackInfo& info) {
  uint64_t gpa = uint_arg(info, 0, "readMemory", "gpa", UINT64_MAX);
  uint64_t length = uint_arg(info, 1, "readMemory", "length", kMaxTransfer);
  return guarded(info.Env(), [&] {
    Machine& m = machine("readMemory");
    auto out = Napi::Buffer<uint8_t>::New(info.Env(), length);
    m.read_memory(gpa, out.Data(), length);
    return out;
  });
}

// writeMemory(gpa, data: Buffer)
Napi::Value VmObject::WriteMemory(const Napi::CallbackInfo& info) {
  uint64_t gpa = uint_arg(info, 0, "writeMemory", "gpa", UINT64_MAX);
  if (!info[1].IsBuffer()) throw Napi::TypeError::New(info.Env(), "writeMemory: data must be a Buffer");
  auto data = info[1].As<Napi::Buffer<uint8_t>>();
  if (data.Length() > kMaxTransfer) {
    throw Napi::RangeError::New(info.Env(), "writeMemory: at most 256 MiB per call");
  }
  return guarded(info.Env(), [&] {
    machine("writeMemory").write_memory(gpa, data.Data(), data.Length());
    return info.Env().Undefined();
  });
}

Napi::Value VmObject::GetVcpuState(const Napi::CallbackInfo& info) {
  uint64_t index = uint_arg(info, 0, "getVcpuState", "vcpu", UINT32_MAX);
  return guarded(info.Env(), [&] {
    return vcpu_state_to_js(info.Env(), machine("getVcpuState").vcpu_state(static_cast<unsigned>(index)));
  });
}

// setVcpuState(index, partial state): what is given replaces, the rest stays.
Napi::Value VmObject::SetVcpuState(const Napi::CallbackInfo& info) {
  uint64_t index = uint_arg(info, 0, "setVcpuState", "vcpu", UINT32_MAX);
  if (!info[1].IsObject()) throw Napi::TypeError::New(info.Env(), "setVcpuState: state must be an object");
  return guarded(info.Env(), [&] {
    Napi::Object patch = info[1].As<Napi::Object>();
    machine("setVcpuState").update_vcpu_state(static_cast<unsigned>(index),
                                              [&](kvm::VcpuState& state) { vcpu_state_from_js(patch, state); });
    return info.Env().Undefined();
  });
}

Napi::Value VmObject::Mailbox(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] { return mailbox_to_js(info.Env(), machine("mailbox").mailbox()); });
}

Napi::Value VmObject::State(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), machine_ ? kvm::to_string(machine_->state()) : "destroyed");
}

Napi::Value VmObject::ExitInfo(const Napi::CallbackInfo& info) {
  if (!machine_) return info.Env().Null();
  kvm::ExitInfo exit = machine_->exit_info();
  return exit.reason.empty() ? info.Env().Null() : exit_to_js(info.Env(), exit);
}

Napi::Value VmObject::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Machine& m = machine("info");
  const kvm::Capabilities& caps = m.capabilities();
  Napi::Object c = Napi::Object::New(env);
  c.Set("maxVcpus", caps.max_vcpus);
  c.Set("xsaveBytes", Napi::Number::New(env, static_cast<double>(caps.xsave_bytes)));
  c.Set("xcrs", caps.xcrs);
  c.Set("manualDirtyLogProtect", Napi::Number::New(env, static_cast<double>(caps.manual_dirty_log_protect)));
  c.Set("dirtyRingBytes", Napi::Number::New(env, static_cast<double>(caps.dirty_ring_bytes)));
  Napi::Object o = Napi::Object::New(env);
  o.Set("memoryBytes", Napi::Number::New(env, static_cast<double>(m.memory_bytes())));
  o.Set("vcpus", m.vcpu_count());
  o.Set("capabilities", c);
  return o;
}

}  // namespace uckpt::addon
