// TEST DOUBLE: a "guest" that is plain memory, for the core's own tests
// only. Writes go through write() so that they are tracked the way a
// hypervisor's dirty log would track them; vCPU state is a few numbers.
#pragma once

#include <cstring>
#include <condition_variable>
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
  explicit MemoryBackend(uint64_t pages) : memory_(pages * kPageSize), tracked_(pages), dirty_(pages), registers_(4) {
    tracked_.set_all();
  }

  // The guest writes one byte (waiting while paused); a tracked page is logged dirty.
  void write(uint64_t pfn, uint32_t offset, uint8_t value) {
    std::unique_lock<std::mutex> lock(mu_);
    unpaused_.wait(lock, [&] { return paused_ == 0; });  // a paused guest does not run
    memory_[pfn * kPageSize + offset] = value;
    if (tracked_.test(pfn)) dirty_.set(pfn);
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
    require_paused();
    dirty |= dirty_;
  }
  void rearm(const Bitmap& pages) override {
    require_paused();
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
  uint8_t* page(uint64_t pfn) override {
    require_paused();
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

  GuestState state = GuestState::Running;
  bool paused() const {
    std::lock_guard<std::mutex> lock(mu_);
    return paused_ > 0;
  }

 private:
  // The core calls these only while paused, so the guest (the test's main
  // thread) cannot be writing: the check itself is what needs the lock.
  void require_paused() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (!paused_) throw std::logic_error("the core touched the guest while it ran");
  }
  mutable std::mutex mu_;
  std::condition_variable unpaused_;
  std::vector<uint8_t> memory_;
  Bitmap tracked_, dirty_;
  std::vector<uint64_t> registers_;
  unsigned paused_ = 0;
};

}  // namespace uckpt::core::testing
