#include "vcpu_state_js.h"

#include <cstring>
#include <string>

namespace uckpt::addon {
namespace {

#define GENERAL_REGISTERS(X) \
  X(rax) X(rbx) X(rcx) X(rdx) X(rsi) X(rdi) X(rsp) X(rbp) X(r8) X(r9) X(r10) X(r11) X(r12) X(r13) X(r14) X(r15) \
  X(rip) X(rflags)

#define SEGMENTS(X) X(cs) X(ds) X(es) X(fs) X(gs) X(ss) X(tr) X(ldt)

#define CONTROL_REGISTERS(X) X(cr0, cr0) X(cr2, cr2) X(cr3, cr3) X(cr4, cr4) X(cr8, cr8) X(efer, efer) \
  X(apicBase, apic_base)

[[noreturn]] void invalid(const Napi::Env& env, const std::string& what) {
  throw Napi::TypeError::New(env, "setVcpuState: " + what);
}

uint64_t to_u64(const Napi::Value& v, const std::string& name) {
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) invalid(v.Env(), name + " does not fit in 64 bits");
    return out;
  }
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d < 0 || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d))) {
      invalid(v.Env(), name + " must be a non-negative integer");
    }
    return static_cast<uint64_t>(d);
  }
  invalid(v.Env(), name + " must be a bigint or a number");
}

Napi::Object segment_to_js(Napi::Env env, const kvm_segment& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("base", Napi::BigInt::New(env, static_cast<uint64_t>(s.base)));
  o.Set("limit", Napi::Number::New(env, s.limit));
  o.Set("selector", Napi::Number::New(env, s.selector));
  o.Set("type", Napi::Number::New(env, s.type));
  o.Set("present", Napi::Number::New(env, s.present));
  o.Set("dpl", Napi::Number::New(env, s.dpl));
  o.Set("db", Napi::Number::New(env, s.db));
  o.Set("s", Napi::Number::New(env, s.s));
  o.Set("l", Napi::Number::New(env, s.l));
  o.Set("g", Napi::Number::New(env, s.g));
  o.Set("avl", Napi::Number::New(env, s.avl));
  o.Set("unusable", Napi::Number::New(env, s.unusable));
  return o;
}

template <typename Field>
void set_field(const Napi::Object& o, const char* key, Field& field, const std::string& path, uint64_t max) {
  if (!o.Has(key)) return;
  uint64_t v = to_u64(o.Get(key), path + "." + key);
  if (v > max) invalid(o.Env(), path + "." + key + " is out of range");
  field = static_cast<Field>(v);
}

void segment_from_js(const Napi::Value& v, kvm_segment& s, const std::string& name) {
  if (!v.IsObject()) invalid(v.Env(), "sregs." + name + " must be an object");
  Napi::Object o = v.As<Napi::Object>();
  std::string path = "sregs." + name;
  set_field(o, "base", s.base, path, UINT64_MAX);
  set_field(o, "limit", s.limit, path, UINT32_MAX);
  set_field(o, "selector", s.selector, path, 0xffff);
  set_field(o, "type", s.type, path, 0xf);
  set_field(o, "present", s.present, path, 1);
  set_field(o, "dpl", s.dpl, path, 3);
  set_field(o, "db", s.db, path, 1);
  set_field(o, "s", s.s, path, 1);
  set_field(o, "l", s.l, path, 1);
  set_field(o, "g", s.g, path, 1);
  set_field(o, "avl", s.avl, path, 1);
  set_field(o, "unusable", s.unusable, path, 1);
}

Napi::Buffer<uint8_t> copy_buffer(Napi::Env env, const void* data, size_t size) {
  return Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(data), size);
}

void buffer_from_js(const Napi::Object& js, const char* key, void* out, size_t size) {
  if (!js.Has(key)) return;
  Napi::Value v = js.Get(key);
  if (!v.IsBuffer() || v.As<Napi::Buffer<uint8_t>>().Length() != size) {
    invalid(js.Env(), std::string(key) + " must be a Buffer of " + std::to_string(size) + " bytes");
  }
  std::memcpy(out, v.As<Napi::Buffer<uint8_t>>().Data(), size);
}

}  // namespace

Napi::Object vcpu_state_to_js(Napi::Env env, const kvm::VcpuState& state) {
  Napi::Object regs = Napi::Object::New(env);
#define REG_OUT(name) regs.Set(#name, Napi::BigInt::New(env, static_cast<uint64_t>(state.regs.name)));
  GENERAL_REGISTERS(REG_OUT)
#undef REG_OUT

  Napi::Object sregs = Napi::Object::New(env);
#define SEG_OUT(name) sregs.Set(#name, segment_to_js(env, state.sregs.name));
  SEGMENTS(SEG_OUT)
#undef SEG_OUT
#define CR_OUT(js, c) sregs.Set(#js, Napi::BigInt::New(env, static_cast<uint64_t>(state.sregs.c)));
  CONTROL_REGISTERS(CR_OUT)
#undef CR_OUT
  for (auto [name, table] : {std::pair{"gdt", state.sregs.gdt}, std::pair{"idt", state.sregs.idt}}) {
    Napi::Object t = Napi::Object::New(env);
    t.Set("base", Napi::BigInt::New(env, static_cast<uint64_t>(table.base)));
    t.Set("limit", Napi::Number::New(env, table.limit));
    sregs.Set(name, t);
  }

  Napi::Array msrs = Napi::Array::New(env, state.msrs.size());
  for (size_t i = 0; i < state.msrs.size(); i++) {
    Napi::Object m = Napi::Object::New(env);
    m.Set("index", Napi::Number::New(env, state.msrs[i].index));
    m.Set("value", Napi::BigInt::New(env, state.msrs[i].value));
    msrs.Set(i, m);
  }
  Napi::Array xcrs = Napi::Array::New(env);
  for (uint32_t i = 0; state.has_xcrs && i < state.xcrs.nr_xcrs; i++) {
    Napi::Object x = Napi::Object::New(env);
    x.Set("xcr", Napi::Number::New(env, state.xcrs.xcrs[i].xcr));
    x.Set("value", Napi::BigInt::New(env, static_cast<uint64_t>(state.xcrs.xcrs[i].value)));
    xcrs.Set(i, x);
  }

  Napi::Object out = Napi::Object::New(env);
  out.Set("regs", regs);
  out.Set("sregs", sregs);
  out.Set("fpu", copy_buffer(env, &state.fpu, sizeof state.fpu));
  out.Set("xsave", copy_buffer(env, state.xsave.data(), state.xsave.size()));
  out.Set("xcrs", xcrs);
  out.Set("msrs", msrs);
  out.Set("events", copy_buffer(env, &state.events, sizeof state.events));
  return out;
}

void vcpu_state_from_js(const Napi::Object& js, kvm::VcpuState& state) {
  Napi::Env env = js.Env();
  if (js.Has("regs")) {
    if (!js.Get("regs").IsObject()) invalid(env, "regs must be an object");
    Napi::Object regs = js.Get("regs").As<Napi::Object>();
#define REG_IN(name) set_field(regs, #name, state.regs.name, "regs", UINT64_MAX);
    GENERAL_REGISTERS(REG_IN)
#undef REG_IN
  }
  if (js.Has("sregs")) {
    if (!js.Get("sregs").IsObject()) invalid(env, "sregs must be an object");
    Napi::Object sregs = js.Get("sregs").As<Napi::Object>();
#define SEG_IN(name) \
  if (sregs.Has(#name)) segment_from_js(sregs.Get(#name), state.sregs.name, #name);
    SEGMENTS(SEG_IN)
#undef SEG_IN
#define CR_IN(js_name, c) set_field(sregs, #js_name, state.sregs.c, "sregs", UINT64_MAX);
    CONTROL_REGISTERS(CR_IN)
#undef CR_IN
    for (auto [name, table] : {std::pair{"gdt", &state.sregs.gdt}, std::pair{"idt", &state.sregs.idt}}) {
      if (!sregs.Has(name)) continue;
      if (!sregs.Get(name).IsObject()) invalid(env, std::string("sregs.") + name + " must be an object");
      Napi::Object t = sregs.Get(name).As<Napi::Object>();
      set_field(t, "base", table->base, std::string("sregs.") + name, UINT64_MAX);
      set_field(t, "limit", table->limit, std::string("sregs.") + name, 0xffff);
    }
  }
  buffer_from_js(js, "fpu", &state.fpu, sizeof state.fpu);
  buffer_from_js(js, "events", &state.events, sizeof state.events);
  if (js.Has("xsave")) {
    Napi::Value v = js.Get("xsave");
    if (!v.IsBuffer()) invalid(env, "xsave must be a Buffer");
    auto b = v.As<Napi::Buffer<uint8_t>>();
    state.xsave.assign(b.Data(), b.Data() + b.Length());
  }
  if (js.Has("msrs")) {
    if (!js.Get("msrs").IsArray()) invalid(env, "msrs must be an array of {index, value}");
    Napi::Array msrs = js.Get("msrs").As<Napi::Array>();
    state.msrs.clear();
    for (uint32_t i = 0; i < msrs.Length(); i++) {
      if (!msrs.Get(i).IsObject()) invalid(env, "msrs[" + std::to_string(i) + "] must be an object");
      Napi::Object m = msrs.Get(i).As<Napi::Object>();
      kvm::Msr msr{};
      set_field(m, "index", msr.index, "msrs[" + std::to_string(i) + "]", UINT32_MAX);
      set_field(m, "value", msr.value, "msrs[" + std::to_string(i) + "]", UINT64_MAX);
      state.msrs.push_back(msr);
    }
  }
  if (js.Has("xcrs")) {
    if (!js.Get("xcrs").IsArray()) invalid(env, "xcrs must be an array of {xcr, value}");
    Napi::Array xcrs = js.Get("xcrs").As<Napi::Array>();
    if (xcrs.Length() > KVM_MAX_XCRS) invalid(env, "too many xcrs");
    state.xcrs.nr_xcrs = xcrs.Length();
    for (uint32_t i = 0; i < xcrs.Length(); i++) {
      if (!xcrs.Get(i).IsObject()) invalid(env, "xcrs[" + std::to_string(i) + "] must be an object");
      Napi::Object x = xcrs.Get(i).As<Napi::Object>();
      set_field(x, "xcr", state.xcrs.xcrs[i].xcr, "xcrs[" + std::to_string(i) + "]", UINT32_MAX);
      set_field(x, "value", state.xcrs.xcrs[i].value, "xcrs[" + std::to_string(i) + "]", UINT64_MAX);
    }
  }
}

}  // namespace uckpt::addon
