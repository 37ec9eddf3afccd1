#include "fault_probe.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>

#include "machine.h"

namespace uckpt::kvm {

double measure_dirty_log_fault_ns(const uint8_t* elf, size_t size) {
  constexpr uint64_t kMemoryMib = 16;  // the smallest VM: the image, the probe's 2 MiB of pages
  // Declared before the machine, whose vCPU thread uses them until it is gone.
  core::Bitmap all(kMemoryMib << 8), written(all.size());
  all.set_all();
  std::mutex mu;
  std::condition_variable ended_cv;
  bool ended = false;
  Machine machine(kMemoryMib, 1, DirtyTracking::Bitmap, [&](Machine::Event event) {
    if (event.kind != Machine::Event::Kind::State || !is_terminal(event.state)) return;
    std::lock_guard<std::mutex> lock(mu);
    ended = true;
    ended_cv.notify_all();
  });
  if (!machine.manual_dirty_protect()) {
    throw std::runtime_error("this host's KVM lacks manual dirty-log protection");
  }
  BootParams params;
  params.workload = UCKPT_FAULT_PROBE;
  machine.load_image(elf, size, params);
  // As at a checkpoint: what was written is protected again.
  machine.on_probe_request([&] {
    written.clear();
    machine.harvest_dirty(written);
    machine.rearm_dirty(all);
  });
  machine.start();
  {
    std::unique_lock<std::mutex> lock(mu);
    if (!ended_cv.wait_for(lock, std::chrono::seconds(10), [&] { return ended; })) {
      lock.unlock();
      machine.stop();
      throw std::runtime_error("the fault probe did not finish within 10 s");
    }
  }
  const ExitInfo exit = machine.exit_info();
  if (exit.reason != "done") throw std::runtime_error("the fault probe ended: " + exit.message);
  uckpt_mailbox mailbox;
  machine.read_memory(UCKPT_MAILBOX_GPA, reinterpret_cast<uint8_t*>(&mailbox), sizeof mailbox);
  const uint64_t khz = machine.tsc_khz();
  if (khz == 0) throw std::runtime_error("KVM reports no TSC frequency");
  const uint64_t fault = mailbox.probe_fault_cycles, plain = mailbox.probe_write_cycles;
  // Where faults cost nothing measurable (hardware dirty logging), 1 ns:
  // 0 means not measured.
  const double extra_cycles = fault > plain ? double(fault - plain) : 0.0;
  return std::max(1.0, extra_cycles * 1e6 / double(khz));
}

}  // namespace uckpt::kvm
