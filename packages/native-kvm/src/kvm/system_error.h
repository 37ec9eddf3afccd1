// The core's system and usage errors, by the names the KVM code uses.
#pragma once

#include <cstdint>
#include <string>

#include "uckpt/core/system_error.h"

namespace uckpt::kvm {

using core::check;
using core::SystemError;
using core::UsageError;

// "0x1f" for messages about addresses and registers.
inline std::string hex(uint64_t value) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), digits[value & 0xf]);
    value >>= 4;
  } while (value);
  return "0x" + out;
}

}  // namespace uckpt::kvm
