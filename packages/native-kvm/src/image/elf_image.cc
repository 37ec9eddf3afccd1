#include "elf_image.h"

#include <elf.h>

#include <cstring>
#include <string>

#include "kvm/system_error.h"
#include "uckpt_guest_abi.h"

namespace uckpt::image {
namespace {

constexpr uint32_t kXenElfnotePhys32Entry = 18;

[[noreturn]] void bad_image(const std::string& why) { throw kvm::UsageError("loadImage: bad guest image: " + why); }

bool in_file(uint64_t offset, uint64_t length, size_t size) { return offset <= size && length <= size - offset; }

size_t align4(size_t n) { return (n + 3) & ~size_t{3}; }

void read_notes(ElfImage& image, const uint8_t* notes, size_t length) {
  bool found_entry = false;
  size_t at = 0;
  while (length - at >= sizeof(Elf64_Nhdr)) {
    Elf64_Nhdr header;
    std::memcpy(&header, notes + at, sizeof header);
    size_t name_at = at + sizeof header;
    size_t desc_at = name_at + align4(header.n_namesz);
    size_t next = desc_at + align4(header.n_descsz);
    if (next > length || next <= at) bad_image("truncated ELF note");
    std::string name(reinterpret_cast<const char*>(notes + name_at), header.n_namesz ? header.n_namesz - 1 : 0);
    const uint8_t* desc = notes + desc_at;

    if (name == UCKPT_NOTE_NAME && header.n_type == UCKPT_NOTE_TYPE_ENTRY) {
      uckpt_entry_note note;
      if (header.n_descsz < sizeof note) bad_image("uckpt entry note is too short");
      std::memcpy(&note, desc, sizeof note);
      if (note.abi_version != UCKPT_ABI_VERSION) {
        bad_image("guest ABI version " + std::to_string(note.abi_version) + ", this VMM speaks " +
                  std::to_string(UCKPT_ABI_VERSION));
      }
      image.entry = {note.user_entry, note.user_stack_top, note.exception_vectors, note.vector_stride,
                     note.idle_entry};
      image.image_end = note.image_end;
      found_entry = true;
    } else if (name == "Xen" && header.n_type == kXenElfnotePhys32Entry && header.n_descsz >= 4) {
      uint32_t entry;
      std::memcpy(&entry, desc, sizeof entry);
      image.pvh_entry = entry;
    }
    at = next;
  }
  if (found_entry && image.image_end == 0) bad_image("uckpt entry note has no image end");
}

}  // namespace

ElfImage parse_elf_image(const uint8_t* data, size_t size) {
  Elf64_Ehdr eh;
  if (size < sizeof eh) bad_image("shorter than an ELF header");
  std::memcpy(&eh, data, sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) bad_image("not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64) {
    bad_image("not a little-endian ELF64 x86-64 file");
  }
  if (eh.e_type != ET_EXEC) bad_image("not a static executable (ET_EXEC)");
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || !in_file(eh.e_phoff, uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr), size)) {
    bad_image("program headers out of the file");
  }

  ElfImage image;
  bool has_entry_note = false;
  for (unsigned i = 0; i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    std::memcpy(&ph, data + eh.e_phoff + i * sizeof ph, sizeof ph);
    if (!in_file(ph.p_offset, ph.p_filesz, size)) bad_image("segment " + std::to_string(i) + " out of the file");
    if (ph.p_type == PT_LOAD) {
      if (ph.p_filesz > ph.p_memsz) bad_image("segment " + std::to_string(i) + " has filesz > memsz");
      if (ph.p_paddr < UCKPT_IMAGE_MIN_GPA) bad_image("segment " + std::to_string(i) + " loads below 1 MiB");
      image.segments.push_back({ph.p_paddr, ph.p_offset, ph.p_filesz, ph.p_memsz, (ph.p_flags & PF_X) != 0});
    } else if (ph.p_type == PT_NOTE) {
      read_notes(image, data + ph.p_offset, ph.p_filesz);
      has_entry_note = has_entry_note || image.image_end != 0;
    }
  }
  if (image.segments.empty()) bad_image("no loadable segments");
  if (!has_entry_note) bad_image("no uckpt entry note (is this a uckpt workload image?)");
  return image;
}

void load_elf_image(const ElfImage& image, const uint8_t* data, uint8_t* ram, uint64_t memory_bytes) {
  if (image.image_end > memory_bytes) {
    throw kvm::UsageError("loadImage: the image needs " + std::to_string(image.image_end >> 20) +
                          " MiB of guest RAM, the VM has " + std::to_string(memory_bytes >> 20));
  }
  for (const auto& s : image.segments) {
    if (s.gpa > memory_bytes || s.memory_bytes > memory_bytes - s.gpa) {
      throw kvm::UsageError("loadImage: a segment lies beyond guest RAM");
    }
    std::memcpy(ram + s.gpa, data + s.file_offset, s.file_bytes);
    std::memset(ram + s.gpa + s.file_bytes, 0, s.memory_bytes - s.file_bytes);
  }
}

}  // namespace uckpt::image
