#include "uckpt/core/copy_pool.h"

#include <pthread.h>

#include <algorithm>
#include <exception>

#include "uckpt/core/clock.h"

namespace uckpt::core {

CopyPool::CopyPool(unsigned threads) {
  if (sched_getaffinity(0, sizeof allowed_, &allowed_) != 0) CPU_ZERO(&allowed_);
  for (unsigned i = 1; i < threads; i++) workers_.emplace_back([this] { worker(); });
}

CopyPool::~CopyPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  start_.notify_all();
  for (auto& t : workers_) t.join();
}

// 32 pages: about 10-30 us of copying, against the ~50 ns of taking a chunk.
constexpr size_t kChunk = 32;

void CopyPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn,
                            const std::function<void()>& beside, uint64_t* cpu_ns) {
  const bool wake = threads() > 1 && n >= 2 * kChunk;  // else not worth waking anyone
  if (wake) keep_off_caller_cpu();
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    job_size_ = n;
    job_timed_ = cpu_ns != nullptr;
    next_.store(0, std::memory_order_relaxed);
    pending_ = wake ? threads() - 1 : 0;
    workers_cpu_ns_ = 0;
    generation_ += wake;
  }
  if (wake) start_.notify_all();
  std::exception_ptr failed;  // rethrown once no thread uses fn any more
  try {
    if (beside) beside();
  } catch (...) {
    failed = std::current_exception();
  }
  const uint64_t own_cpu_ns = take_chunks(fn, n, cpu_ns != nullptr);
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return pending_ == 0; });
  job_ = nullptr;
  if (failed) std::rethrow_exception(failed);
  if (cpu_ns) *cpu_ns = own_cpu_ns + workers_cpu_ns_;
}

uint64_t CopyPool::take_chunks(const std::function<void(size_t, size_t)>& fn, size_t n, bool timed) {
  const uint64_t start = timed ? now_ns(CLOCK_THREAD_CPUTIME_ID) : 0;
  bool took = false;
  for (size_t begin; (begin = next_.fetch_add(kChunk, std::memory_order_relaxed)) < n; took = true) {
    fn(begin, std::min(begin + kChunk, n));
  }
  return timed && took ? now_ns(CLOCK_THREAD_CPUTIME_ID) - start : 0;
}

void CopyPool::keep_off_caller_cpu() {
  const int cpu = sched_getcpu();
  if (cpu < 0 || cpu == caller_cpu_) return;
  caller_cpu_ = cpu;
  cpu_set_t others = allowed_;
  CPU_CLR(cpu, &others);
  if (CPU_COUNT(&others) == 0) return;
  // Best effort: where it fails, the copies are only slower.
  for (auto& t : workers_) pthread_setaffinity_np(t.native_handle(), sizeof others, &others);
}

void CopyPool::worker() {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_) return;
    seen = generation_;
    const auto* job = job_;
    const size_t n = job_size_;
    const bool timed = job_timed_;
    lock.unlock();
    const uint64_t cpu_ns = take_chunks(*job, n, timed);
    lock.lock();
    workers_cpu_ns_ += cpu_ns;
    if (--pending_ == 0) done_.notify_one();
  }
}

}  // namespace uckpt::core
