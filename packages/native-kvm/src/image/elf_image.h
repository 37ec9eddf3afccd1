// The workload image: an ELF64 x86-64 executable with its loadable segments
// at or above 1 MiB, a uckpt note naming its entry points, and (optionally)
// the Xen PVH entry note that lets the same file boot under Xen.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "kvm/x86_boot.h"

namespace uckpt::image {

struct Segment {
  uint64_t gpa;
  uint64_t file_offset;
  uint64_t file_bytes;
  uint64_t memory_bytes;
  bool executable;
};

struct ElfImage {
  std::vector<Segment> segments;
  kvm::EntryPoints entry{};
  uint64_t image_end = 0;
  std::optional<uint32_t> pvh_entry;
};

// Parses and validates the image; throws UsageError naming what is wrong.
ElfImage parse_elf_image(const uint8_t* data, size_t size);

// Copies the segments into guest RAM (`ram` maps guest-physical 0).
void load_elf_image(const ElfImage& image, const uint8_t* data, uint8_t* ram, uint64_t memory_bytes);

}  // namespace uckpt::image
