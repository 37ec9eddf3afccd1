// What checkpointing is asked to do: the mode, the interval and bounds, the
// predictor, and the fault cost the cost model starts from. Apart from the
// epoch loop because the addons build and check a config from JavaScript
// options before any loop exists.
#pragma once

#include <cstdint>
#include <string>

namespace uckpt::core {

// Stop-and-copy copies every written page while the guest is paused.
// Copy-on-write pauses it only to harvest and write-protect, and saves a
// page's pre-image at its first write after the checkpoint (a fault served
// by a handler thread); the guest does not wait for copies. Where the
// backend cannot write-protect, copy-on-write falls back to stop-and-copy
// and says why.
enum class Mode { StopAndCopy, CopyOnWrite };
const char* to_string(Mode mode);
// "stop-and-copy" or "cow"; throws std::invalid_argument otherwise.
Mode parse_mode(const std::string& name);

// Threads to copy with while a guest is paused: two where this process may
// run on two CPUs or more (the paused vCPU's thread sleeps, so its CPU is
// free; two measured 1.4-1.6x faster copies than one), else one.
unsigned default_copy_threads();

struct CheckpointConfig {
  uint32_t interval_ms = 50;  // 1..10000
  uint32_t retention = 8;     // 1..1024
  bool enabled = true;
  Mode mode = Mode::StopAndCopy;
  uint64_t store_bytes = 0;   // memory bound of the page store
  unsigned copy_threads = default_copy_threads();  // threads copying while the guest is paused
  std::string predictor = "off";  // "off", "history", "frontier", "cost"
  // Stop-and-copy: copy pages written early in an epoch while the guest
  // runs (at 1/2, 3/4, 7/8 and 15/16 of the interval), protecting them
  // again first, so that the pause copies only what was written since.
  // Where the backend can harvest a running guest; may change while running.
  bool precopy = true;
  // The cost of one write fault under the hypervisor's dirty log
  // (stop-and-copy), for the cost model; and what the backend measured it as
  // on this host (0: not measured).
  double dirty_log_fault_ns = 3000;
  double dirty_log_fault_ns_calibrated = 0;
};

// Throws std::invalid_argument naming what is wrong.
void validate(const CheckpointConfig& config);

}  // namespace uckpt::core
