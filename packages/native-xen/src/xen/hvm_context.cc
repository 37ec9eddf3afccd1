#include "hvm_context.h"

#include <cstddef>
#include <cstring>
#include <stdexcept>

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
