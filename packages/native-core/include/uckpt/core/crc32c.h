// CRC32C (Castagnoli) of stored pages.
//
// Why CRC32C and not a 64-bit hash such as xxHash64: the fault we guard
// against is a few flipped bits in a stored page, and a CRC detects every
// error of up to three flipped bits in a 4 KiB page (and every odd count)
// with certainty, where a hash only makes a miss unlikely. x86-64 computes
// it in hardware (SSE4.2), fused with the copy so the page is read once.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uckpt::core {

uint32_t crc32c(const uint8_t* data, size_t length);
// Copies one page and returns the CRC32C of what was copied.
uint32_t copy_page_crc32c(uint8_t* dst, const uint8_t* src);

}  // namespace uckpt::core
