#include "hvm_context.h"

#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "xen_api.h"

namespace uckpt::xen {
namespace {

constexpr uint16_t kCpuRecord = 2;  // HVM_SAVE_CODE(CPU)
constexpr size_t kTscAt = offsetof(hvm_hw_cpu, tsc);

// Calls visit(instance, data) for each vCPU's CPU record. Every length is
// checked against the buffer: a malformed context must not be followed.
template <typename Byte, typename Visit>
void for_each_cpu_record(Byte* context, size_t size, Visit visit) {
  size_t at = 0;
  while (at + sizeof(hvm_save_descriptor) <= size) {
    hvm_save_descriptor d;
    std::memcpy(&d, context + at, sizeof d);
    at += sizeof d;
    if (d.length > size - at) throw std::runtime_error("HVM context: a record runs past the end");
    if (d.typecode == 0) return;  // END
    if (d.typecode == kCpuRecord && d.length >= sizeof(hvm_hw_cpu)) visit(d.instance, context + at);
    at += d.length;
  }
}

}  // namespace

std::optional<size_t> register_offset(std::string_view name) {
  static constexpr std::pair<std::string_view, size_t> kRegisters[] = {
      {"rax", offsetof(hvm_hw_cpu, rax)}, {"rbx", offsetof(hvm_hw_cpu, rbx)}, {"rcx", offsetof(hvm_hw_cpu, rcx)},
      {"rdx", offsetof(hvm_hw_cpu, rdx)}, {"rsi", offsetof(hvm_hw_cpu, rsi)}, {"rdi", offsetof(hvm_hw_cpu, rdi)},
      {"rsp", offsetof(hvm_hw_cpu, rsp)}, {"rbp", offsetof(hvm_hw_cpu, rbp)}, {"r8", offsetof(hvm_hw_cpu, r8)},
      {"r9", offsetof(hvm_hw_cpu, r9)},   {"r10", offsetof(hvm_hw_cpu, r10)}, {"r11", offsetof(hvm_hw_cpu, r11)},
      {"r12", offsetof(hvm_hw_cpu, r12)}, {"r13", offsetof(hvm_hw_cpu, r13)}, {"r14", offsetof(hvm_hw_cpu, r14)},
      {"r15", offsetof(hvm_hw_cpu, r15)}, {"rip", offsetof(hvm_hw_cpu, rip)},
  };
  for (const auto& [known, offset] : kRegisters) {
    if (known == name) return offset;
  }
  return std::nullopt;
}

uint64_t xor_cpu_field(std::vector<uint8_t>& context, unsigned vcpu, size_t offset, uint64_t mask) {
  std::optional<uint64_t> before;
  for_each_cpu_record(context.data(), context.size(), [&](uint16_t instance, uint8_t* cpu) {
    if (instance != vcpu) return;
    uint64_t value;
    std::memcpy(&value, cpu + offset, sizeof value);
    before = value;
    value ^= mask;
    std::memcpy(cpu + offset, &value, sizeof value);
  });
  if (!before) throw std::runtime_error("HVM context: no CPU record for vCPU " + std::to_string(vcpu));
  return *before;
}

void carry_tsc(const std::vector<uint8_t>& live, std::vector<uint8_t>& restored) {
  std::vector<uint64_t> tsc;
  for_each_cpu_record(live.data(), live.size(), [&](uint16_t vcpu, const uint8_t* cpu) {
    if (tsc.size() <= vcpu) tsc.resize(vcpu + 1u, 0);
    std::memcpy(&tsc[vcpu], cpu + kTscAt, sizeof(uint64_t));
  });
  for_each_cpu_record(restored.data(), restored.size(), [&](uint16_t vcpu, uint8_t* cpu) {
    if (vcpu < tsc.size()) std::memcpy(cpu + kTscAt, &tsc[vcpu], sizeof(uint64_t));
  });
}

}  // namespace uckpt::xen
