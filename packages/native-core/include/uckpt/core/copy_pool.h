// A few threads that split the copying of a pause between them. While the
// guest is paused its vCPU's core is idle, so a second copier can use it.
//
// Where CPUs are themselves virtual, the scheduler was seen waking a copier
// on its waker's CPU, idle CPU or not: the two halves of a copy then ran one
// after the other. So the copiers are kept off the caller's CPU.
#pragma once

#include <sched.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
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
  // Runs fn(begin, end) over [0, n) in chunks that the threads take in
  // turn, and returns when all are done. The caller first runs `beside`,
  // if given (work that must not wait for the copies, nor they for it),
  // then takes chunks too: whoever is free copies. With `cpu_ns`, stores
  // there the CPU time the threads spent in fn, summed: what the work cost,
  // whatever else competed for the CPUs meanwhile (two clock reads a thread,
  // about 0.5 us each here, so only where asked).
  void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn,
                    const std::function<void()>& beside = nullptr, uint64_t* cpu_ns = nullptr);

 private:
  void worker();
  // Returns the CPU time this thread spent in fn where `timed`, else 0.
  uint64_t take_chunks(const std::function<void(size_t, size_t)>& fn, size_t n, bool timed);
  void keep_off_caller_cpu();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_, done_;
  const std::function<void(size_t, size_t)>* job_ = nullptr;
  size_t job_size_ = 0;
  std::atomic<size_t> next_{0};  // the first index no thread has taken yet
  uint64_t generation_ = 0;
  unsigned pending_ = 0;
  bool job_timed_ = false;
  uint64_t workers_cpu_ns_ = 0;  // the workers' take_chunks() of a timed job
  bool stopping_ = false;
  cpu_set_t allowed_;     // the CPUs this process may run on
  int caller_cpu_ = -1;  // the copiers are kept off this one
};

}  // namespace uckpt::core
