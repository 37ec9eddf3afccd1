#include "uckpt/core/copy_pool.h"

#include <pthread.h>

namespace uckpt::core {

CopyPool::CopyPool(unsigned threads) {
  if (sched_getaffinity(0, sizeof allowed_, &allowed_) != 0) CPU_ZERO(&allowed_);
  for (unsigned i = 1; i < threads; i++) workers_.emplace_back([this, i] { worker(i); });
}

CopyPool::~CopyPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  start_.notify_all();
  for (auto& t : workers_) t.join();
}

static std::pair<size_t, size_t> slice(size_t n, unsigned parts, unsigned index) {
  return {n * index / parts, n * (index + 1) / parts};
}

void CopyPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn) {
  const unsigned parts = threads();
  if (parts == 1 || n < 64) {  // not worth waking anyone
    fn(0, n);
    return;
  }
  keep_off_caller_cpu();
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    job_size_ = n;
    pending_ = parts - 1;
    generation_++;
  }
  start_.notify_all();
  auto [begin, end] = slice(n, parts, 0);
  fn(begin, end);
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return pending_ == 0; });
  job_ = nullptr;
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

void CopyPool::worker(unsigned index) {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_) return;
    seen = generation_;
    const auto* job = job_;
    auto [begin, end] = slice(job_size_, threads(), index);
    lock.unlock();
    (*job)(begin, end);
    lock.lock();
    if (--pending_ == 0) done_.notify_one();
  }
}

}  // namespace uckpt::core
