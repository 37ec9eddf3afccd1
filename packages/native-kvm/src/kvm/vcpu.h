// One vCPU: its fd, its kvm_run page and the native thread that runs it.
//
// The thread is driven by requests (run, pause, stop) in the way of
// Firecracker's vCPU event loop. A pause is acknowledged only once the
// thread is out of KVM_RUN and asleep on a condition variable: a paused
// vCPU never spins, so write-protecting guest pages does not pay for TLB
// shootdown IPIs to a busy core (platform.md).
#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "fd.h"

namespace uckpt::kvm {

class Vcpu {
 public:
  // Called on the vCPU thread for every exit that is not a pause. Returns
  // whether the vCPU should keep running; false halts it until stop().
  using ExitHandler = std::function<bool(Vcpu&, kvm_run&)>;
  // Called on the vCPU thread when KVM_RUN itself fails.
  using FailureHandler = std::function<void(Vcpu&, int error)>;

  Vcpu(int vm_fd, unsigned index, size_t run_mmap_bytes);
  ~Vcpu();
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;

  unsigned index() const { return index_; }
  int fd() const { return fd_.get(); }

  void start(ExitHandler on_exit, FailureHandler on_failure);
  // Asks the thread to leave KVM_RUN; returns at once.
  void request_pause();
  // Waits until the thread is out of KVM_RUN and asleep (or halted).
  bool wait_paused(std::chrono::milliseconds timeout);
  void resume();
  // Keeps the vCPU out of the guest until stop(), whatever resumes follow.
  void halt();
  // Ends the thread for good; safe to call more than once.
  void stop();
  // After start() and a halt or stop: a new thread with the same exit
  // handlers enters the guest again, at once or (`paused`) at the next resume().
  void restart(bool paused);
  bool halted() const;
  // CPU time this vCPU's threads have run (in the guest, and handling its
  // exits and faults), up to the thread's last pause: exact while paused.
  uint64_t cpu_ns() const { return cpu_ns_.load(std::memory_order_acquire); }

 private:
  void thread_main();
  void kick();

  unsigned index_;
  Fd fd_;
  kvm_run* run_ = nullptr;
  size_t run_bytes_ = 0;
  ExitHandler on_exit_;
  FailureHandler on_failure_;

  mutable std::mutex mu_;
  std::condition_variable wake_;    // requests for the vCPU thread
  std::condition_variable parked_;  // acknowledgements from it
  bool pause_requested_ = false;
  bool stop_requested_ = false;
  bool halted_ = false;
  std::atomic<bool> asleep_{true};  // written under mu_; read without it by a spinning waiter
  bool thread_started_ = false;
  std::atomic<uint64_t> cpu_ns_{0};  // written by the vCPU thread as it parks
  pthread_t native_thread_{};
  std::thread thread_;
};

}  // namespace uckpt::kvm
