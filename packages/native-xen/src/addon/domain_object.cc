#include "domain_object.h"

#include <cctype>
#include <cstring>

#include "js_args.h"
#include "mailbox_js.h"
#include "xen/hvm_context.h"

namespace uckpt::addon {
namespace {

constexpr uint64_t kMaxTransfer = 64ull << 20;  // one readMemory/writeMemory call
constexpr uint64_t kPageSize = 4096;

// Copies between a JavaScript buffer and guest memory, page by page
// (frames are mapped in chunks and need not be contiguous in dom0).
template <typename Copy>
void for_each_page(xen::Domain& d, uint64_t gpa, uint64_t length, Copy copy) {
  for (uint64_t done = 0; done < length;) {
    uint64_t offset = (gpa + done) % kPageSize;
    uint64_t n = std::min(length - done, kPageSize - offset);
    copy(d.page((gpa + done) / kPageSize) + offset, done, n);
    done += n;
  }
}

// A key under the domain's xenstore home: letters, digits and -_./, no
// way up or out.
bool valid_key(const std::string& key) {
  if (key.empty() || key.size() > 128 || key.front() == '/' || key.find("..") != std::string::npos) return false;
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && !std::strchr("-_./", c)) return false;
  }
  return true;
}

}  // namespace

Napi::Value ListDomains(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const auto domains = xen::list_domains();
    Napi::Array out = Napi::Array::New(env, domains.size());
    for (size_t i = 0; i < domains.size(); i++) {
      const xen::DomainSummary& d = domains[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("domid", d.domid);
      o.Set("name", d.name);
      o.Set("type", d.type);
      o.Set("state", xen::to_string(d.state));
      o.Set("shutdownReason", d.state == xen::DomainState::Shutdown || d.state == xen::DomainState::Crashed
                                  ? Napi::Value(Napi::String::New(env, xen::shutdown_reason_name(d.shutdown_reason)))
                                  : env.Null());
      o.Set("memoryKb", static_cast<double>(d.memory_kb));
      o.Set("vcpus", d.vcpus);
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  });
}

Napi::Function DomainObject::Define(Napi::Env env) {
  return DefineClass(env, "XenDomain",
                     {
                         InstanceMethod<&DomainObject::Info>("info"),
                         InstanceMethod<&DomainObject::Vcpus>("vcpus"),
                         InstanceMethod<&DomainObject::FlipRegister>("flipRegister"),
                         InstanceMethod<&DomainObject::Crash>("crash"),
                         InstanceMethod<&DomainObject::GuestRam>("guestRam"),
                         InstanceMethod<&DomainObject::Pause>("pause"),
                         InstanceMethod<&DomainObject::Resume>("resume"),
                         InstanceMethod<&DomainObject::ReadMemory>("readMemory"),
                         InstanceMethod<&DomainObject::WriteMemory>("writeMemory"),
                         InstanceMethod<&DomainObject::Mailbox>("mailbox"),
                         InstanceMethod<&DomainObject::ReadXenstore>("readXenstore"),
                         InstanceMethod<&DomainObject::Detach>("detach"),
                         InstanceMethod<&DomainObject::EnableCheckpointing>("enableCheckpointing"),
                         InstanceMethod<&DomainObject::ConfigureCheckpointing>("configureCheckpointing"),
                         InstanceMethod<&DomainObject::CheckpointNow>("checkpointNow"),
                         InstanceMethod<&DomainObject::Rollback>("rollback"),
                         InstanceMethod<&DomainObject::ListCheckpoints>("listCheckpoints"),
                         InstanceMethod<&DomainObject::CheckpointStats>("checkpointStats"),
                         InstanceMethod<&DomainObject::TestCorruptStoredPage>("testCorruptStoredPage"),
                         InstanceMethod<&DomainObject::TestLogDirtyInXen>("testLogDirtyInXen"),
                     });
}

// new XenDomain(domid, onEvent)
DomainObject::DomainObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DomainObject>(info) {
  Napi::Env env = info.Env();
  uint64_t domid = uint_arg(info, 0, "attach", "domid", 0x7fef);  // DOMID_FIRST_RESERVED - 1
  if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "attach: onEvent must be a function");
  on_event_ = Napi::Persistent(info[1].As<Napi::Function>());
  guarded(env, [&] {
    domain_ = std::make_unique<xen::Domain>(static_cast<uint32_t>(domid));
    return env.Undefined();
  });
}

DomainObject::~DomainObject() { checkpointing_.stop(); }

xen::Domain& DomainObject::domain(const char* operation) {
  if (!domain_) throw Napi::Error::New(Env(), std::string(operation) + ": detached from the domain");
  return *domain_;
}

// info(): {domid, state, shutdownReason, hvm, pages, maxMemKb, vcpus, frames, logDirty}
Napi::Value DomainObject::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&] {
    xen::Domain& d = domain("info");
    xen::DomainInfo i = d.info();
    Napi::Object o = Napi::Object::New(env);
    o.Set("domid", Napi::Number::New(env, i.domid));
    o.Set("state", xen::to_string(i.state));
    o.Set("shutdownReason", i.state == xen::DomainState::Shutdown || i.state == xen::DomainState::Crashed
                                ? Napi::String::New(env, xen::shutdown_reason_name(i.shutdown_reason))
                                : env.Null());
    o.Set("hvm", i.hvm);
    o.Set("pages", Napi::Number::New(env, static_cast<double>(i.nr_pages)));
    o.Set("maxMemKb", Napi::Number::New(env, static_cast<double>(i.max_memkb)));
    o.Set("vcpus", Napi::Number::New(env, i.vcpus));
    o.Set("frames", Napi::Number::New(env, static_cast<double>(d.page_count())));
    o.Set("logDirty", d.log_dirty());
    return o;
  });
}

// vcpus(): [{vcpu, online, blocked, cpuTimeNs, rip, rsp, cr3, cr4, kernel}],
// registers as bigints (a kernel address does not fit a double).
Napi::Value DomainObject::Vcpus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&] {
    Napi::Array out = Napi::Array::New(env);
    for (const xen::VcpuSample& v : domain("vcpus").vcpu_samples()) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("vcpu", Napi::Number::New(env, v.vcpu));
      o.Set("online", v.online);
      o.Set("blocked", v.blocked);
      o.Set("cpuTimeNs", Napi::Number::New(env, static_cast<double>(v.cpu_time_ns)));
      o.Set("rip", Napi::BigInt::New(env, static_cast<uint64_t>(v.rip)));
      o.Set("rsp", Napi::BigInt::New(env, static_cast<uint64_t>(v.rsp)));
      o.Set("cr3", Napi::BigInt::New(env, static_cast<uint64_t>(v.cr3)));
      o.Set("cr4", Napi::BigInt::New(env, static_cast<uint64_t>(v.cr4)));
      o.Set("kernel", v.kernel);
      out.Set(out.Length(), o);
    }
    return out;
  });
}

// flipRegister(vcpu, name, mask): XORs the bigint `mask` into a general-
// purpose register of a vCPU, the domain paused meanwhile (fault
// injection); returns {before, after}.
Napi::Value DomainObject::FlipRegister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto vcpu = static_cast<unsigned>(uint_arg(info, 0, "flipRegister", "vcpu", 127));
  if (!info[1].IsString()) throw Napi::TypeError::New(env, "flipRegister: name must be a string");
  const std::string name = info[1].As<Napi::String>();
  const auto offset = xen::register_offset(name);
  if (!offset) throw Napi::RangeError::New(env, "flipRegister: name must be a general-purpose register (rax..r15, rsp, rbp, rip)");
  if (!info[2].IsBigInt()) throw Napi::TypeError::New(env, "flipRegister: mask must be a bigint");
  bool lossless = false;
  const uint64_t mask = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless || mask == 0) throw Napi::RangeError::New(env, "flipRegister: mask must be a non-zero 64-bit value");
  return guarded(env, [&] {
    xen::Domain& d = domain("flipRegister");
    if (vcpu >= d.info().vcpus) throw core::UsageError("flipRegister: the domain has no vCPU " + std::to_string(vcpu));
    d.pause();
    uint64_t before;
    try {
      before = d.flip_register(vcpu, *offset, mask);
    } catch (...) {
      d.resume();
      throw;
    }
    d.resume();
    Napi::Object o = Napi::Object::New(env);
    o.Set("before", Napi::BigInt::New(env, before));
    o.Set("after", Napi::BigInt::New(env, before ^ mask));
    return o;
  });
}

// guestRam(frame): whether a frame is the guest's RAM (not a hole, not Xen's).
Napi::Value DomainObject::GuestRam(const Napi::CallbackInfo& info) {
  const uint64_t pfn = uint_arg(info, 0, "guestRam", "frame", UINT64_MAX);
  return guarded(info.Env(), [&] { return Napi::Boolean::New(info.Env(), domain("guestRam").guest_ram(pfn)); });
}

// crash(): shuts the domain down as crashed, as a kernel panic does.
Napi::Value DomainObject::Crash(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    domain("crash").crash();
    return info.Env().Undefined();
  });
}

Napi::Value DomainObject::Pause(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    domain("pause").pause();
    return info.Env().Undefined();
  });
}

Napi::Value DomainObject::Resume(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    domain("resume").resume();
    return info.Env().Undefined();
  });
}

// readMemory(gpa, length): Buffer
Napi::Value DomainObject::ReadMemory(const Napi::CallbackInfo& info) {
  uint64_t gpa = uint_arg(info, 0, "readMemory", "gpa", UINT64_MAX);
  uint64_t length = uint_arg(info, 1, "readMemory", "length", kMaxTransfer);
  return guarded(info.Env(), [&] {
    xen::Domain& d = domain("readMemory");
    auto out = Napi::Buffer<uint8_t>::New(info.Env(), length);
    for_each_page(d, gpa, length, [&](uint8_t* page, uint64_t at, uint64_t n) { std::memcpy(out.Data() + at, page, n); });
    return out;
  });
}

// writeMemory(gpa, data): the pages written go into the next checkpoint.
Napi::Value DomainObject::WriteMemory(const Napi::CallbackInfo& info) {
  uint64_t gpa = uint_arg(info, 0, "writeMemory", "gpa", UINT64_MAX);
  if (!info[1].IsBuffer()) throw Napi::TypeError::New(info.Env(), "writeMemory: data must be a Buffer");
  auto data = info[1].As<Napi::Buffer<uint8_t>>();
  if (data.Length() > kMaxTransfer) throw Napi::RangeError::New(info.Env(), "writeMemory: at most 64 MiB at once");
  return guarded(info.Env(), [&] {
    xen::Domain& d = domain("writeMemory");
    if (data.Length() == 0) return info.Env().Undefined();
    for (uint64_t pfn = gpa / kPageSize; pfn <= (gpa + data.Length() - 1) / kPageSize; pfn++) {
      if (!d.guest_ram(pfn)) throw core::UsageError("writeMemory: frame " + std::to_string(pfn) + " is not the guest's RAM (a hole, or Xen's)");
    }
    for_each_page(d, gpa, data.Length(), [&](uint8_t* page, uint64_t at, uint64_t n) { std::memcpy(page, data.Data() + at, n); });
    if (auto* backend = static_cast<xen::XenBackend*>(checkpointing_.backend())) {
      backend->mark_written(gpa / kPageSize, (gpa + data.Length() - 1) / kPageSize);
    }
    return info.Env().Undefined();
  });
}

// readXenstore(key): the value of /local/domain/<domid>/<key> (bounded to
// 4 KiB: the guest writes its own keys), or null when there is none.
Napi::Value DomainObject::ReadXenstore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "readXenstore: key must be a string");
  const std::string key = info[0].As<Napi::String>();
  if (!valid_key(key)) {
    throw Napi::RangeError::New(env, "readXenstore: key must be 1-128 characters of letters, digits and -_./, relative, without ..");
  }
  return guarded(env, [&]() -> Napi::Value {
    const uint32_t domid = domain("readXenstore").domid();
    if (!xenstore_) xenstore_ = std::make_unique<xen::Xenstore>();
    const auto value = xenstore_->read("/local/domain/" + std::to_string(domid) + "/" + key);
    return value ? Napi::Value(Napi::String::New(env, *value)) : env.Null();
  });
}

// mailbox(): the uckpt workload image's mailbox, or null when the guest is
// not one (its magic is missing).
Napi::Value DomainObject::Mailbox(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const auto* page = domain("mailbox").page(UCKPT_MAILBOX_GPA / kPageSize);
    MailboxView mb = read_mailbox(reinterpret_cast<const volatile uckpt_mailbox*>(page));
    if (mb.magic != UCKPT_MAILBOX_MAGIC) return env.Null();
    return mailbox_to_js(env, mb);
  });
}

// detach(): stops checkpointing, switches log-dirty off, unmaps; the domain
// runs on. Idempotent.
Napi::Value DomainObject::Detach(const Napi::CallbackInfo& info) {
  checkpointing_.stop();
  domain_.reset();
  return info.Env().Undefined();
}

// enableCheckpointing({intervalMs, retention, mode, predictor, storeMiB, copyThreads})
Napi::Value DomainObject::EnableCheckpointing(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  xen::Domain& d = domain("enableCheckpointing");
  Napi::Object options = info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
  // Guest RAM plus half of it for the undo logs, as on KVM; Xen re-arms
  // every page at a CLEAN, so nothing can be left writable: no predictor.
  uint64_t ram = d.info().max_memkb << 10;
  CheckpointDefaults defaults{ram * 3 / 2, "off"};
  checkpointing_.enable(env, options, defaults, {}, on_event_.Value(),
                        [&d](const Napi::Object&) { return std::make_unique<xen::XenBackend>(d); });
  return env.Undefined();
}

Napi::Value DomainObject::ConfigureCheckpointing(const Napi::CallbackInfo& info) {
  domain("configureCheckpointing");
  checkpointing_.configure(info.Env(), info[0], "configureCheckpointing");
  return info.Env().Undefined();
}

Napi::Value DomainObject::CheckpointNow(const Napi::CallbackInfo& info) {
  domain("checkpointNow");
  return checkpointing_.checkpoint_now(info.Env());
}

Napi::Value DomainObject::Rollback(const Napi::CallbackInfo& info) {
  domain("rollback");
  // revived: whether the rollback brought a crashed domain back.
  return checkpointing_.rollback(info.Env(), info[0],
                                 [](Napi::Env env, Napi::Object& result, bool revived) {
                                   result.Set("revived", Napi::Boolean::New(env, revived));
                                 });
}

Napi::Value DomainObject::ListCheckpoints(const Napi::CallbackInfo& info) {
  domain("listCheckpoints");
  return checkpointing_.list(info.Env());
}

Napi::Value DomainObject::CheckpointStats(const Napi::CallbackInfo& info) {
  domain("checkpointStats");
  Napi::Object o = checkpointing_.stats(info.Env());
  o.Set("dirtyTracking", "xen-log-dirty");
  return o;
}

Napi::Value DomainObject::TestCorruptStoredPage(const Napi::CallbackInfo& info) {
  domain("testCorruptStoredPage");
  checkpointing_.corrupt_for_test(info.Env(), info);
  return info.Env().Undefined();
}

// testLogDirtyInXen(): whether Xen tracks the domain's writes, as Xen says
// (for tests that detaching switched it off).
Napi::Value DomainObject::TestLogDirtyInXen(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] { return Napi::Boolean::New(info.Env(), domain("testLogDirtyInXen").log_dirty_in_xen()); });
}

}  // namespace uckpt::addon
