// A few threads that split the copying of a pause between them. While the
// guest is paused its vCPU's core is idle, so a second copier can use it.
//
// Where CPUs are themselves virtual, the scheduler was seen waking a copier
// on its waker's CPU, idle CPU or not: the two halves of a copy then ran one
// after the other. So the copiers are kept off the caller's CPU.
#pragma once

#include <sched.h>

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace uckpt::core {

class CopyPool {
 public:
  explicit CopyPool(unsigned threads);
  ~CopyPool();
  CopyPool(const CopyPool&) = delete;
  CopyPool& operator=(const CopyPool&) = delete;

  unsigned threads() const { return static_cast<unsigned>(workers_.size()) + 1; }
  // Runs fn(begin, end) over [0, n) in contiguous slices, one per thread
  // (the caller takes the first), and returns when all are done.
  void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn);

 private:
  void worker(unsigned index);
  void keep_off_caller_cpu();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_, done_;
  const std::function<void(size_t, size_t)>* job_ = nullptr;
  size_t job_size_ = 0;
  uint64_t generation_ = 0;
  unsigned pending_ = 0;
  bool stopping_ = false;
  cpu_set_t allowed_;     // the CPUs this process may run on
  int caller_cpu_ = -1;  // the copiers are kept off this one
};

}  // namespace uckpt::core
