// TEST DOUBLE: a "guest" that is plain memory, for the core's own tests
// only. Writes go through write() so that they are tracked the way a
// hypervisor's dirty log would track them; vCPU state is a few numbers.
// Write protection works as userfaultfd's does: a write to a protected page
// reports a fault and waits until the page is unprotected (and, like a
// vCPU interrupted in a fault, retries once the guest is not paused).
#pragma once

#include <cstring>
#include <condition_variable>
#include <deque>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "uckpt/core/backend.h"

namespace uckpt::core::testing {

struct FakeVcpus : VcpuSnapshot {
  std::vector<uint64_t> registers;
};

class MemoryBackend : public Backend {
 public:
  explicit MemoryBackend(uint64_t pages)
      : memory_(pages * kPageSize), tracked_(pages), dirty_(pages), protected_(pages), registers_(4) {
    tracked_.set_all();
  }

  // The guest writes one byte (waiting while paused, and on a protected
  // page until it is unprotected); a tracked page is logged dirty.
  void write(uint64_t pfn, uint32_t offset, uint8_t value) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      unpaused_.wait(lock, [&] { return paused_ == 0; });  // a paused guest does not run
      if (!protected_.test(pfn)) break;
      wait_unprotected(lock, pfn);
      write_faults++;
    }
    memory_[pfn * kPageSize + offset] = value;
    if (tracked_.test(pfn)) dirty_.set(pfn);
  }
  // The VMM writes a page: dirty whatever the tracking, blocked by protection like the guest, but not by pauses.
  void vmm_write(uint64_t pfn, uint8_t value) {
    std::unique_lock<std::mutex> lock(mu_);
    while (protected_.test(pfn)) wait_unprotected(lock, pfn);
    std::memset(&memory_[pfn * kPageSize], value, kPageSize);
    dirty_.set(pfn);
  }
  // The guest sets a register (waiting while paused, like write()).
  void set_register(size_t index, uint64_t value) {
    std::unique_lock<std::mutex> lock(mu_);
    unpaused_.wait(lock, [&] { return paused_ == 0; });
    registers_[index] = value;
  }
  std::vector<uint64_t> registers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return registers_;
  }
  std::vector<uint8_t> memory() const {
    std::lock_guard<std::mutex> lock(mu_);
    return memory_;
  }

  uint64_t page_count() const override { return memory_.size() / kPageSize; }
  GuestState guest_state() const override { return state; }
  void pause() override {
    std::lock_guard<std::mutex> lock(mu_);
    paused_++;
  }
  void resume() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (paused_ == 0) throw std::logic_error("resume without pause");
    if (--paused_ == 0) unpaused_.notify_all();
  }
  void harvest_dirty(Bitmap& dirty) override {
    if (!harvest_running) require_paused();
    std::lock_guard<std::mutex> lock(mu_);
    dirty |= dirty_;
  }
  void rearm(const Bitmap& pages) override {
    if (!harvest_running) require_paused();
    std::lock_guard<std::mutex> lock(mu_);
    pages.for_each([&](uint64_t pfn) {
      dirty_.reset(pfn);
      tracked_.set(pfn);
    });
  }
  void populated_pages(Bitmap& out) override {
    for (uint64_t p = 0; p < page_count(); p++) {
      const uint8_t* page = &memory_[p * kPageSize];
      for (uint64_t i = 0; i < kPageSize; i++) {
        if (page[i]) {
          out.set(p);
          break;
        }
      }
    }
  }
  bool can_harvest_running() const override { return harvest_running; }
  uint8_t* page(uint64_t pfn) override {
    if (!harvest_running) require_paused();
    return &memory_[pfn * kPageSize];
  }
  std::unique_ptr<VcpuSnapshot> capture_vcpus() override {
    require_paused();
    auto s = std::make_unique<FakeVcpus>();
    s->registers = registers();
    return s;
  }
  void restore_vcpus(const VcpuSnapshot& snapshot) override {
    require_paused();
    std::lock_guard<std::mutex> lock(mu_);
    registers_ = dynamic_cast<const FakeVcpus&>(snapshot).registers;
  }

  std::string write_protect_unavailable() override { return cow_unavailable; }
  void start_write_protect() override {
    std::lock_guard<std::mutex> lock(mu_);
    wp_running_ = true;
  }
  void stop_write_protect() override {
    std::lock_guard<std::mutex> lock(mu_);
    protected_.clear();
    wp_running_ = false;
    wakeups_++;
    unprotected_.notify_all();
    fault_raised_.notify_all();
  }
  void write_protect(const Bitmap& pages) override {
    require_paused();
    std::lock_guard<std::mutex> lock(mu_);
    if (!wp_running_) throw std::logic_error("write_protect before start_write_protect");
    protected_ |= pages;
    protect_calls++;
  }
  void unprotect(const Bitmap& pages) override {
    std::lock_guard<std::mutex> lock(mu_);
    protected_.and_not(pages);
    wakeups_++;
    unprotected_.notify_all();
  }
  void unprotect_page(uint64_t pfn) override {
    std::lock_guard<std::mutex> lock(mu_);
    protected_.reset(pfn);
    wakeups_++;
    unprotected_.notify_all();
  }
  std::optional<uint64_t> next_write_fault() override {
    std::unique_lock<std::mutex> lock(mu_);
    fault_raised_.wait(lock, [&] { return !faults_.empty() || !wp_running_; });
    if (!wp_running_) return std::nullopt;
    uint64_t pfn = faults_.front();
    faults_.pop_front();
    return pfn;
  }
  const uint8_t* protected_page(uint64_t pfn) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!protected_.test(pfn) && !paused_) throw std::logic_error("protected_page: the page is writable");
    return &memory_[pfn * kPageSize];
  }
  bool is_protected(uint64_t pfn) const {
    std::lock_guard<std::mutex> lock(mu_);
    return protected_.test(pfn);
  }

  GuestState state = GuestState::Running;
  // Reviving: an ended fake guest is brought back unless this says why not.
  std::string revive_refused;
  int revivals = 0;
  std::string revive_refusal() const override { return revive_refused; }
  void revive() override {
    require_paused();
    revivals++;
    state = GuestState::Running;
  }
  std::string cow_unavailable;  // set to test the fallback to stop-and-copy
  // Cleared to stand for a guest mid-exchange with its host (see Backend).
  std::atomic<bool> consistent{true};
  bool checkpoint_consistent() override { return consistent; }
  // Like a hypervisor's dirty log that allows it (KVM's dirty bitmap with
  // manual protection): harvested, re-armed and read while the guest runs
  // (copying ahead). A page read as it is written is logged dirty again by
  // that write, as there.
  bool harvest_running = false;
  uint64_t write_faults = 0;    // guest writes that waited on protection
  uint64_t protect_calls = 0;
  bool paused() const {
    std::lock_guard<std::mutex> lock(mu_);
    return paused_ > 0;
  }

 private:
  // The core calls these only while paused, so the guest (the test's main
  // thread) cannot be writing: the check itself is what needs the lock.
  // Reports a fault and waits for a wake-up; the caller retries (and
  // faults again if the page was protected again meanwhile).
  void wait_unprotected(std::unique_lock<std::mutex>& lock, uint64_t pfn) {
    faults_.push_back(pfn);
    fault_raised_.notify_all();
    const uint64_t generation = wakeups_;
    unprotected_.wait(lock, [&] { return wakeups_ != generation; });
  }
  void require_paused() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (!paused_) throw std::logic_error("the core touched the guest while it ran");
  }
  mutable std::mutex mu_;
  std::condition_variable unpaused_;
  std::vector<uint8_t> memory_;
  Bitmap tracked_, dirty_, protected_;
  std::vector<uint64_t> registers_;
  unsigned paused_ = 0;
  bool wp_running_ = false;
  uint64_t wakeups_ = 0;
  std::deque<uint64_t> faults_;
  std::condition_variable fault_raised_, unprotected_;
};

}  // namespace uckpt::core::testing
