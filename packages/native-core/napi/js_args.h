// Argument checking and error conversion shared by the addons' methods.
#pragma once

#include <napi.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "uckpt/core/checkpoint_ring.h"
#include "uckpt/core/system_error.h"

namespace uckpt::addon {

// Runs the body of a thread-safe function's callback. An exception must not
// leave such a callback (it would end the process), and while the
// environment is torn down JavaScript can no longer run: either way the
// event is dropped.
template <typename Body>
inline void deliver_safely(Body body) {
  try {
    body();
  } catch (const Napi::Error&) {
  }
}

// Runs `body`, turning native errors into JavaScript errors that name the
// operation and, for system calls, carry errno and its code.
template <typename Body>
inline Napi::Value guarded(Napi::Env env, Body body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const core::SystemError& e) {
    Napi::Error error = Napi::Error::New(env, e.what());
    const char* code = strerrorname_np(e.error_number());
    error.Set("code", Napi::String::New(env, code ? code : "EUNKNOWN"));
    error.Set("errno", Napi::Number::New(env, e.error_number()));
    throw error;
  } catch (const core::UsageError& e) {
    Napi::Error error = Napi::Error::New(env, e.what());
    error.Set("code", Napi::String::New(env, "UCKPT_INVALID"));
    throw error;
  } catch (const core::RollbackRefused& e) {
    Napi::Error error = Napi::Error::New(env, std::string("rollback: ") + e.what());
    error.Set("code", Napi::String::New(env, "UCKPT_ROLLBACK_REFUSED"));
    throw error;
  } catch (const std::invalid_argument& e) {
    Napi::Error error = Napi::Error::New(env, e.what());
    error.Set("code", Napi::String::New(env, "UCKPT_INVALID"));
    throw error;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

inline uint64_t uint_value(Napi::Env env, const Napi::Value& v, const char* operation, const char* name, uint64_t max) {
  uint64_t out = 0;
  if (v.IsBigInt()) {
    bool lossless = false;
    out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) out = max + 1;
  } else if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d))) {
      throw Napi::TypeError::New(env, std::string(operation) + ": " + name + " must be a non-negative integer");
    }
    out = static_cast<uint64_t>(d);
  } else {
    throw Napi::TypeError::New(env, std::string(operation) + ": " + name + " must be a number");
  }
  if (out > max) {
    throw Napi::RangeError::New(env, std::string(operation) + ": " + name + " must be at most " + std::to_string(max));
  }
  return out;
}

inline uint64_t uint_arg(const Napi::CallbackInfo& info, size_t i, const char* operation, const char* name, uint64_t max) {
  return uint_value(info.Env(), info[i], operation, name, max);
}

inline uint64_t uint_field(const Napi::Object& o, const char* key, uint64_t fallback, const char* operation) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return fallback;
  Napi::Value v = o.Get(key);
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (lossless) return out;
  } else if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d >= 0 && d <= 9007199254740991.0 && d == static_cast<double>(static_cast<uint64_t>(d))) {
      return static_cast<uint64_t>(d);
    }
  }
  throw Napi::TypeError::New(o.Env(), std::string(operation) + ": " + key + " must be a non-negative integer");
}

inline std::optional<bool> optional_bool_field(const Napi::Object& o, const char* key, const char* operation) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return std::nullopt;
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), std::string(operation) + ": " + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

}  // namespace uckpt::addon
