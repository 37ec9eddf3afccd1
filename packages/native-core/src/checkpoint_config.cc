#include "uckpt/core/checkpoint_config.h"

#include <sched.h>

#include <stdexcept>

#include "uckpt/core/predictor.h"

namespace uckpt::core {

const char* to_string(Mode mode) { return mode == Mode::CopyOnWrite ? "cow" : "stop-and-copy"; }

Mode parse_mode(const std::string& name) {
  if (name == "stop-and-copy") return Mode::StopAndCopy;
  if (name == "cow") return Mode::CopyOnWrite;
  throw std::invalid_argument("mode must be \"stop-and-copy\" or \"cow\", got \"" + name + "\"");
}

unsigned default_copy_threads() {
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof cpus, &cpus) != 0) return 1;
  return CPU_COUNT(&cpus) >= 2 ? 2 : 1;
}

void validate(const CheckpointConfig& c) {
  if (c.interval_ms < 1 || c.interval_ms > 10000) {
    throw std::invalid_argument("intervalMs must be from 1 to 10000, got " + std::to_string(c.interval_ms));
  }
  if (c.retention < 1 || c.retention > 1024) {
    throw std::invalid_argument("retention must be from 1 to 1024, got " + std::to_string(c.retention));
  }
  if (c.store_bytes < (1u << 20)) throw std::invalid_argument("the store bound must be at least 1 MiB");
  if (c.copy_threads < 1 || c.copy_threads > 16) {
    throw std::invalid_argument("copyThreads must be from 1 to 16, got " + std::to_string(c.copy_threads));
  }
  if (c.predictor != "off") make_predictor(c.predictor, 1);  // throws for an unknown name
  if (!(c.dirty_log_fault_ns > 0)) throw std::invalid_argument("the fault cost must be positive");
}

}  // namespace uckpt::core
