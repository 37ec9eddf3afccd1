// A clock read in nanoseconds.
#pragma once

#include <time.h>

#include <cstdint>

namespace uckpt::core {

// CLOCK_MONOTONIC for durations, CLOCK_REALTIME for wall-clock times,
// CLOCK_THREAD_CPUTIME_ID for the CPU time the calling thread has run.
inline uint64_t now_ns(clockid_t clock = CLOCK_MONOTONIC) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return uint64_t(ts.tv_sec) * 1000000000 + uint64_t(ts.tv_nsec);
}

}  // namespace uckpt::core
