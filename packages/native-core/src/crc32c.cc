#include "uckpt/core/crc32c.h"

#include <cstring>

#include "uckpt/core/backend.h"

namespace uckpt::core {
namespace {

constexpr uint32_t kPolynomial = 0x82f63b78;  // reflected Castagnoli

struct Table {
  uint32_t entries[256];
  constexpr Table() : entries() {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ kPolynomial : c >> 1;
      entries[i] = c;
    }
  }
};
constexpr Table kTable;

uint32_t crc_software(uint32_t crc, const uint8_t* data, size_t length) {
  for (size_t i = 0; i < length; i++) crc = kTable.entries[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc_hardware(uint32_t crc, const uint8_t* data, size_t length) {
  uint64_t c = crc;
  size_t i = 0;
  for (; i + 8 <= length; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    c = __builtin_ia32_crc32di(c, word);
  }
  for (; i < length; i++) c = __builtin_ia32_crc32qi(static_cast<uint32_t>(c), data[i]);
  return static_cast<uint32_t>(c);
}

__attribute__((target("sse4.2"))) uint32_t copy_crc_hardware(uint8_t* dst, const uint8_t* src) {
  uint64_t c = ~uint32_t{0};
  for (size_t i = 0; i < kPageSize; i += 8) {
    uint64_t word;
    std::memcpy(&word, src + i, 8);
    std::memcpy(dst + i, &word, 8);
    c = __builtin_ia32_crc32di(c, word);
  }
  return ~static_cast<uint32_t>(c);
}

const bool kHardware = __builtin_cpu_supports("sse4.2");
#else
const bool kHardware = false;
#endif

}  // namespace

uint32_t crc32c(const uint8_t* data, size_t length) {
#if defined(__x86_64__)
  if (kHardware) return ~crc_hardware(~uint32_t{0}, data, length);
#endif
  return ~crc_software(~uint32_t{0}, data, length);
}

uint32_t copy_page_crc32c(uint8_t* dst, const uint8_t* src) {
#if defined(__x86_64__)
  if (kHardware) return copy_crc_hardware(dst, src);
#endif
  std::memcpy(dst, src, kPageSize);
  return crc32c(dst, kPageSize);
}

}  // namespace uckpt::core
