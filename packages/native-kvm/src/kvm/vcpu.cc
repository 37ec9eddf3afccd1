#include "vcpu.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <string>

#include "system_error.h"
#include "uckpt/core/clock.h"

namespace uckpt::kvm {
namespace {

// The signal that interrupts KVM_RUN. Its disposition is process-wide by
// nature; the handler does nothing and is installed once for all VMs.
int kick_signal() { return SIGRTMIN + 3; }

void install_kick_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
    sigaction(kick_signal(), &sa, nullptr);
  });
}

void set_immediate_exit(kvm_run* run, bool value) {
  __atomic_store_n(&run->immediate_exit, value ? 1 : 0, __ATOMIC_SEQ_CST);
}

}  // namespace

Vcpu::Vcpu(int vm_fd, unsigned index, size_t run_mmap_bytes) : index_(index), run_bytes_(run_mmap_bytes) {
  int fd = ioctl(vm_fd, KVM_CREATE_VCPU, index);
  if (fd < 0) throw SystemError("KVM_CREATE_VCPU " + std::to_string(index), errno);
  fd_ = Fd(fd);
  void* p = mmap(nullptr, run_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw SystemError("mmap kvm_run of vCPU " + std::to_string(index), errno);
  run_ = static_cast<kvm_run*>(p);
}

Vcpu::~Vcpu() {
  stop();
  munmap(run_, run_bytes_);
}

void Vcpu::start(ExitHandler on_exit, FailureHandler on_failure) {
  install_kick_handler();
  on_exit_ = std::move(on_exit);
  on_failure_ = std::move(on_failure);
  std::lock_guard<std::mutex> lock(mu_);
  thread_started_ = true;
  asleep_ = false;
  thread_ = std::thread([this] { thread_main(); });
  native_thread_ = thread_.native_handle();
}

void Vcpu::thread_main() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kick_signal());
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);

  // Earlier threads of this vCPU (before a restart) ran what cpu_ns_ holds.
  const uint64_t ran_before = cpu_ns_.load(std::memory_order_relaxed);
  auto count_cpu_time = [&] {
    cpu_ns_.store(ran_before + core::now_ns(CLOCK_THREAD_CPUTIME_ID), std::memory_order_release);
  };
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    while (!stop_requested_ && (pause_requested_ || halted_)) {
      count_cpu_time();  // before the acknowledgement, which publishes it
      asleep_ = true;
      parked_.notify_all();
      wake_.wait(lock);
    }
    if (stop_requested_) break;
    asleep_ = false;
    lock.unlock();

    int result = ioctl(fd_.get(), KVM_RUN, 0);
    int error = errno;
    bool keep_running = true;
    if (result < 0) {
      // EINTR: a pause or stop request kicked us out; the loop decides.
      if (error != EINTR && error != EAGAIN) {
        on_failure_(*this, error);
        keep_running = false;
      }
    } else if (run_->exit_reason != KVM_EXIT_INTR) {
      try {
        keep_running = on_exit_(*this, *run_);
      } catch (...) {  // an exception must not end the process from this thread
        on_failure_(*this, EIO);
        keep_running = false;
      }
    }
    lock.lock();
    if (!keep_running) halted_ = true;
  }
  count_cpu_time();
  asleep_ = true;
  parked_.notify_all();
}

void Vcpu::kick() {
  set_immediate_exit(run_, true);
  if (thread_started_) pthread_kill(native_thread_, kick_signal());
}

void Vcpu::request_pause() {
  std::lock_guard<std::mutex> lock(mu_);
  if (pause_requested_ || stop_requested_) return;
  pause_requested_ = true;
  kick();
}

bool Vcpu::wait_paused(std::chrono::milliseconds timeout) {
  // A kicked vCPU leaves KVM_RUN within tens of microseconds. Waiting that
  // long awake saves waking a sleeping waiter (about 40 us on this host),
  // which every pause would add; the vCPU thread runs on another CPU.
  const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
  while (std::chrono::steady_clock::now() < spin_until) {
    if (asleep_.load(std::memory_order_acquire)) return true;
    __builtin_ia32_pause();
  }
  std::unique_lock<std::mutex> lock(mu_);
  return parked_.wait_for(lock, timeout, [this] { return asleep_.load(); });
}

void Vcpu::resume() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!pause_requested_) return;
  pause_requested_ = false;
  set_immediate_exit(run_, false);
  wake_.notify_all();
}

void Vcpu::halt() {
  std::lock_guard<std::mutex> lock(mu_);
  if (halted_ || stop_requested_) return;
  halted_ = true;
  kick();
}

void Vcpu::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (thread_started_ && !stop_requested_) {
      stop_requested_ = true;
      kick();
      wake_.notify_all();
    }
  }
  if (thread_.joinable()) thread_.join();
}

void Vcpu::restart(bool paused) {
  stop();  // a halted thread is parked: this ends it
  std::lock_guard<std::mutex> lock(mu_);
  stop_requested_ = false;
  halted_ = false;
  pause_requested_ = paused;
  set_immediate_exit(run_, paused);
  asleep_ = paused;
  thread_started_ = true;
  thread_ = std::thread([this] { thread_main(); });
  native_thread_ = thread_.native_handle();
}

bool Vcpu::halted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return halted_;
}

}  // namespace uckpt::kvm
