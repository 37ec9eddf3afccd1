// The checkpoint core without any hypervisor, over the memory test double.
// One file, one binary: it is built and run by `make test` with no test
// framework, and each case below is independent of the others.
#include <sys/mman.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "check.h"
#include "memory_backend.h"
#include "uckpt/core/checkpointer.h"
#include "uckpt/core/clock.h"
#include "uckpt/core/crc32c.h"

using namespace uckpt::core;
using uckpt::core::testing::MemoryBackend;

namespace {

constexpr uint64_t kPages = 256;
constexpr uint64_t MiB = 1 << 20;

// Takes a checkpoint the way the epoch loop does: pause, harvest, take, re-arm.
uint64_t checkpoint(MemoryBackend& guest, CheckpointRing& ring) {
  guest.pause();
  Bitmap dirty(guest.page_count());
  guest.harvest_dirty(dirty);
  uint64_t seq = ring.empty() ? ring.begin().seq : ring.take(dirty).seq;
  guest.rearm(dirty);
  guest.resume();
  return seq;
}

RollbackResult rollback(MemoryBackend& guest, CheckpointRing& ring, std::optional<uint64_t> seq) {
  guest.pause();
  Bitmap dirty(guest.page_count());
  guest.harvest_dirty(dirty);
  struct Resume {
    MemoryBackend& g;
    ~Resume() { g.resume(); }
  } resume{guest};
  RollbackResult r = ring.rollback(seq, dirty);
  guest.rearm(dirty);
  return r;
}

void scribble(MemoryBackend& guest, std::mt19937_64& rng, int writes, uint64_t pages = kPages) {
  for (int i = 0; i < writes; i++) {
    guest.write(rng() % pages, static_cast<uint32_t>(rng() % kPageSize), static_cast<uint8_t>(rng() | 1));
  }
  guest.set_register(0, rng());
}

// Keeps what a checkpointer reports, for the test thread to read.
class Reports {
 public:
  Checkpointer::EpochSink epochs_sink() {
    return [this](const EpochRecord& r) {
      std::lock_guard<std::mutex> lock(mu_);
      epochs_.push_back(r);
    };
  }
  Checkpointer::ErrorSink errors_sink() {
    return [this](const std::string& e) {
      std::lock_guard<std::mutex> lock(mu_);
      errors_.push_back(e);
    };
  }
  std::vector<EpochRecord> epochs() const {
    std::lock_guard<std::mutex> lock(mu_);
    return epochs_;
  }
  std::vector<std::string> errors() const {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<EpochRecord> epochs_;
  std::vector<std::string> errors_;
};

// Waits for the checkpoint a checkpointer takes as it starts (the guest
// must not write meanwhile); returns its seq and the guest image it holds.
std::pair<uint64_t, std::vector<uint8_t>> first_checkpoint(const Checkpointer& cp, const MemoryBackend& guest) {
  while (cp.list().empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return {cp.list().front().seq, guest.memory()};
}

}  // namespace

TEST("crc32c matches the standard check value") {
  const char* text = "123456789";
  CHECK_EQ(crc32c(reinterpret_cast<const uint8_t*>(text), 9), 0xe3069283u);
  std::vector<uint8_t> page(kPageSize), copy(kPageSize);
  for (size_t i = 0; i < page.size(); i++) page[i] = static_cast<uint8_t>(i * 31);
  CHECK_EQ(copy_page_crc32c(copy.data(), page.data()), crc32c(page.data(), kPageSize));
  CHECK(copy == page);
}

TEST("page store: bounded, reuses released frames, detects a flipped bit") {
  PageStore store(4 * kPageSize);
  std::vector<FrameId> frames;
  for (int i = 0; i < 4; i++) frames.push_back(store.allocate());
  CHECK_EQ(store.allocate(), kNoFrame);
  CHECK_EQ(store.bytes_in_use(), 4 * kPageSize);
  store.release(frames[2]);
  CHECK_EQ(store.allocate(), frames[2]);
  std::vector<uint8_t> page(kPageSize, 0x5a);
  store.store(frames[0], page.data());
  CHECK(store.verify(frames[0]));
  store.corrupt_for_test(frames[0], 12345);
  CHECK(!store.verify(frames[0]));
  CHECK_THROWS(std::invalid_argument, PageStore(100), "page store bound");
}

TEST("page store: checksums queued by a pause are settled later, and before any check") {
  PageStore store(8 * kPageSize);
  std::vector<FrameId> frames;
  std::vector<uint8_t> page(kPageSize);
  for (int i = 0; i < 3; i++) {
    frames.push_back(store.allocate());
    std::fill(page.begin(), page.end(), static_cast<uint8_t>(i + 1));
    store.copy_in(frames.back(), page.data());
  }
  store.queue_checksums(frames);
  CHECK_EQ(store.settle_checksums(2), size_t{1});
  CHECK(store.verify(frames[0]));  // settles the last one first
  CHECK_EQ(store.settle_checksums(), size_t{0});
  for (FrameId f : frames) CHECK(store.verify(f));
  store.copy_in(frames[1], page.data());  // now holds the third page's bytes, queued
  store.queue_checksums({frames[1]});
  store.corrupt_for_test(frames[1], 7);
  CHECK(!store.verify(frames[1]));
}

TEST("page store: prefault backs exactly the frames the next allocations take") {
  PageStore store(64 * kPageSize);
  auto resident = [&](FrameId frame) {
    unsigned char in = 0;
    const auto page = reinterpret_cast<uintptr_t>(store.data(frame));
    CHECK_EQ(mincore(reinterpret_cast<void*>(page), kPageSize, &in), 0);
    return (in & 1) != 0;
  };
  CHECK(!resident(0));
  store.prefault(4);
  for (FrameId f = 0; f < 4; f++) CHECK(resident(f));
  CHECK(!resident(4));
  FrameId first = store.allocate();  // frame 0
  store.release(first);
  CHECK_EQ(store.prefault(5), uint64_t{0});  // frames 0-3 are backed and free: one more
  CHECK(resident(4));
  CHECK(!resident(5));
  CHECK_EQ(store.prefault(12, 3), uint64_t{4});  // 7 more wanted, 3 at a time
  CHECK(resident(7));
  CHECK(!resident(8));
}

TEST("copy pool: every index once, the caller's side task beside, its failure rethrown after the copies") {
  for (unsigned threads : {1u, 2u, 3u}) {
    CopyPool pool(threads);
    for (size_t n : {size_t{0}, size_t{5}, size_t{64}, size_t{1000}}) {
      std::vector<std::atomic<int>> seen(n);
      bool beside_ran = false;
      pool.parallel_for(
          n, [&](size_t begin, size_t end) { for (size_t i = begin; i < end; i++) seen[i]++; },
          [&] { beside_ran = true; });
      CHECK(beside_ran);
      for (size_t i = 0; i < n; i++) CHECK_EQ(seen[i].load(), 1);
    }
    std::atomic<size_t> done{0};
    bool threw = false;
    try {
      pool.parallel_for(
          4096, [&](size_t begin, size_t end) { done += end - begin; },
          [] { throw std::runtime_error("re-arm failed"); });
    } catch (const std::runtime_error& e) {
      threw = std::string(e.what()) == "re-arm failed";
    }
    CHECK(threw);
    CHECK_EQ(done.load(), size_t{4096});  // no worker was still at it
  }
}

TEST("copy pool: reports the CPU time its threads spent in the work, summed, not the time that passed") {
  for (unsigned threads : {1u, 2u}) {
    CopyPool pool(threads);
    // 64 chunks of 32: each spins for 200 us of its thread's CPU time, and
    // the first also sleeps 20 ms, which costs no CPU.
    std::atomic<bool> slept{false};
    uint64_t cpu_ns = 0;
    pool.parallel_for(64 * 32, [&](size_t, size_t) {
      if (!slept.exchange(true)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      const uint64_t start = now_ns(CLOCK_THREAD_CPUTIME_ID);
      while (now_ns(CLOCK_THREAD_CPUTIME_ID) - start < 200000) {
      }
    }, nullptr, &cpu_ns);
    CHECK(cpu_ns >= uint64_t{64 * 200000});
    CHECK(cpu_ns < uint64_t{64 * 200000 + 10000000});
  }
}

TEST("rollback to any retained checkpoint restores memory and vCPUs exactly") {
  for (unsigned retention : {1u, 3u, 8u}) {
    MemoryBackend guest(kPages);
    CopyPool copiers(2);
    CheckpointRing ring(guest, 8 * MiB, retention, copiers);
    std::mt19937_64 rng(retention);
    std::map<uint64_t, std::pair<std::vector<uint8_t>, std::vector<uint64_t>>> saved;
    for (int round = 0; round < 300; round++) {
      scribble(guest, rng, static_cast<int>(rng() % 200));
      guest.pause();
      saved[checkpoint(guest, ring)] = {guest.memory(), guest.registers()};
      guest.resume();
      scribble(guest, rng, static_cast<int>(rng() % 50));  // the open epoch
      if (rng() % 4 == 0) {
        auto list = ring.list();
        CHECK(list.size() <= retention);
        uint64_t target = list[rng() % list.size()].seq;
        RollbackResult r = rollback(guest, ring, target);
        CHECK_EQ(r.seq, target);
        CHECK(guest.memory() == saved[target].first);
        CHECK(guest.registers() == saved[target].second);
        CHECK_EQ(ring.latest_seq(), target);
      }
    }
  }
}

TEST("only pages changed since the target are written back, each once") {
  MemoryBackend guest(kPages);
  CopyPool copiers(1);
  CheckpointRing ring(guest, 8 * MiB, 8, copiers);
  guest.write(1, 0, 1);
  uint64_t first = checkpoint(guest, ring);
  guest.write(2, 0, 2);
  guest.write(3, 0, 3);
  checkpoint(guest, ring);
  guest.write(3, 0, 4);  // page 3 is in two undo logs
  checkpoint(guest, ring);
  guest.write(4, 0, 5);  // open epoch
  RollbackResult r = rollback(guest, ring, first);
  CHECK_EQ(r.pages_restored, 3u);  // pages 2, 3, 4; not page 1
  CHECK_EQ(r.checkpoints_dropped, 2u);
  auto memory = guest.memory();
  CHECK_EQ(int(memory[1 * kPageSize]), 1);
  CHECK_EQ(int(memory[3 * kPageSize]), 0);  // the oldest pre-image wins
  CHECK_EQ(int(memory[4 * kPageSize]), 0);
}

TEST("retention retires the oldest checkpoints and frees their frames") {
  MemoryBackend guest(kPages);
  CopyPool copiers(1);
  CheckpointRing ring(guest, 8 * MiB, 3, copiers);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10; i++) {
    scribble(guest, rng, 40);
    checkpoint(guest, ring);
  }
  auto list = ring.list();
  CHECK_EQ(list.size(), 3u);
  CHECK_EQ(list.back().seq, 10u);
  CHECK_EQ(list.front().seq, 8u);
  uint64_t frames = ring.shadow_pages();
  for (size_t i = 0; i + 1 < list.size(); i++) frames += list[i].bytes / kPageSize;
  CHECK_EQ(ring.store_bytes(), frames * kPageSize);  // nothing leaked
  ring.set_retention(1);
  CHECK_EQ(ring.list().size(), 1u);
  CHECK_EQ(ring.store_bytes(), ring.shadow_pages() * kPageSize);
  CHECK_THROWS(RollbackRefused, rollback(guest, ring, 9), "checkpoint 9 is not retained (retained: 10..10)");
}

TEST("staged pages: taken as staged unless written again, restored by a rollback, refused without room") {
  MemoryBackend guest(kPages);
  guest.harvest_running = true;
  CopyPool copiers(1);
  CheckpointRing ring(guest, 1 * MiB, 4, copiers);  // 256 frames
  std::mt19937_64 rng(3);
  for (uint64_t p = 0; p < 64; p++) guest.write(p, 0, 1);
  checkpoint(guest, ring);  // the shadow: 64 frames
  const std::vector<uint8_t> at_first = guest.memory();
  // Written, then staged (protected first, as the epoch loop does), then some written again.
  for (uint64_t p = 0; p < 32; p++) guest.write(p, 1, 2);
  Bitmap staged(kPages), dirty(kPages);
  guest.harvest_dirty(staged);
  bool protected_first = false;
  CHECK(ring.stage(staged, [&] { guest.rearm(staged), protected_first = true; }));
  CHECK(protected_first);
  for (uint64_t p = 0; p < 8; p++) guest.write(p, 2, 3);
  guest.pause();
  guest.harvest_dirty(dirty);
  CHECK_EQ(dirty.count(), uint64_t{8});  // the pause sees only what was written since
  TakeResult taken = ring.take(dirty);
  guest.rearm(dirty);
  guest.resume();
  CHECK_EQ(taken.pages_copied, uint64_t{8});
  CHECK_EQ(taken.pages_staged, uint64_t{24});
  CHECK_EQ(rollback(guest, ring, 1).pages_restored, uint64_t{32});
  CHECK(guest.memory() == at_first);

  // A rollback before the next checkpoint restores staged pages and drops their frames.
  const uint64_t frames_before = ring.store_bytes();
  for (uint64_t p = 40; p < 48; p++) guest.write(p, 5, 9);
  staged.clear();
  guest.harvest_dirty(staged);
  CHECK(ring.stage(staged, [&] { guest.rearm(staged); }));
  CHECK(ring.store_bytes() > frames_before);
  CHECK_EQ(rollback(guest, ring, std::nullopt).pages_restored, uint64_t{8});
  CHECK(guest.memory() == at_first);
  CHECK_EQ(ring.store_bytes(), frames_before);

  // No room without retiring a checkpoint: nothing is staged, nothing protected.
  for (uint64_t p = 64; p < kPages; p++) guest.write(p, 0, 1);
  checkpoint(guest, ring);  // the shadow now holds all 256 pages: the store is full
  for (uint64_t p = 0; p < 4; p++) guest.write(p, 7, 7);
  staged.clear();
  guest.harvest_dirty(staged);
  bool called = false;
  CHECK(!ring.stage(staged, [&] { called = true; }));
  CHECK(!called);
}

TEST("at the memory bound the oldest checkpoints go; below the shadow nothing changes") {
  MemoryBackend guest(kPages);
  CopyPool copiers(1);
  CheckpointRing ring(guest, 64 * kPageSize, 100, copiers);
  for (uint64_t p = 0; p < 20; p++) guest.write(p, 0, 1);
  checkpoint(guest, ring);  // shadow: 20 frames
  for (int round = 0; round < 10; round++) {
    for (uint64_t p = 0; p < 20; p++) guest.write(p, 1, static_cast<uint8_t>(round));
    checkpoint(guest, ring);
  }
  CHECK(ring.store_bytes() <= 64 * kPageSize);
  CHECK(ring.list().size() < 11);  // some were retired to make room
  // 50 new pages do not fit next to a 20-page shadow in 64 frames.
  for (uint64_t p = 20; p < 70; p++) guest.write(p, 0, 1);
  auto before = ring.list();
  guest.pause();
  Bitmap dirty(kPages);
  guest.harvest_dirty(dirty);
  CHECK_THROWS(StoreFull, ring.take(dirty), "cannot hold this checkpoint");
  guest.resume();
  CHECK_EQ(ring.list().size(), before.size());
}

TEST("a corrupted stored page refuses the rollback that needs it and changes nothing") {
  MemoryBackend guest(kPages);
  CopyPool copiers(1);
  CheckpointRing ring(guest, 8 * MiB, 8, copiers);
  guest.write(5, 0, 1);
  guest.write(6, 0, 1);
  uint64_t a = checkpoint(guest, ring);
  guest.write(5, 0, 2);
  uint64_t b = checkpoint(guest, ring);
  guest.write(5, 0, 3);
  guest.write(6, 0, 3);
  checkpoint(guest, ring);
  guest.write(7, 0, 9);
  ring.corrupt_for_test(b, 5);  // b's pre-image of page 5
  auto memory = guest.memory();
  CHECK_THROWS(RollbackRefused, rollback(guest, ring, b), "checkpoint 2 holds a corrupted copy of guest page 5");
  CHECK(guest.memory() == memory);
  CHECK(ring.list()[1].corrupt);
  // Rolling back further does not read b's copy of page 5: a's is older.
  RollbackResult r = rollback(guest, ring, a);
  CHECK_EQ(r.seq, a);
  CHECK_EQ(int(guest.memory()[5 * kPageSize]), 1);
  CHECK_EQ(int(guest.memory()[6 * kPageSize]), 1);
  CHECK_EQ(int(guest.memory()[7 * kPageSize]), 0);
}

TEST("checkpointer: epochs on a timer, checkpoint now, rollback, reconfiguration") {
  MemoryBackend guest(kPages);
  Reports reports;
  CheckpointConfig config;
  config.interval_ms = 5;
  config.retention = 4;
  config.store_bytes = 8 * MiB;
  Checkpointer cp(guest, config, reports.epochs_sink(), reports.errors_sink());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(reports.epochs().size() >= 5);
  CHECK(cp.list().size() <= 4);
  uint64_t seq = cp.checkpoint_now();
  CHECK(seq >= cp.list().front().seq);
  RollbackOutcome r = cp.rollback(std::nullopt);
  CHECK(r.result.seq >= seq);
  CHECK_THROWS(std::invalid_argument, cp.configure({.interval_ms = 0}), "intervalMs must be from 1 to 10000");
  CHECK_THROWS(std::invalid_argument, cp.configure({.retention = 0}), "retention must be from 1 to 1024");
  cp.configure({.enabled = false});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK_THROWS(std::runtime_error, cp.rollback(std::nullopt), "checkpointing is disabled");
  CHECK(cp.list().empty());
  cp.configure({.retention = 2, .enabled = true});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(!cp.list().empty());
  CHECK(cp.list().size() <= 2);
  CHECK(reports.errors().empty());
  cp.stop();  // a timed epoch may be in its pause until then
  CHECK(!guest.paused());
}

TEST("checkpointer: while the backend is inconsistent epochs are deferred, losing no write, and checkpoint now says why") {
  MemoryBackend guest(kPages);
  Reports reports;
  CheckpointConfig config;
  config.interval_ms = 5;
  config.store_bytes = 8 * MiB;
  Checkpointer cp(guest, config, reports.epochs_sink(), reports.errors_sink());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  guest.consistent = false;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // an epoch in its tries may still finish
  const uint64_t last = cp.list().back().seq;
  const uint8_t kept = guest.memory()[3 * kPageSize];
  guest.write(3, 0, kept ^ 0xff);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  CHECK(cp.list().back().seq == last);
  CHECK(cp.totals().deferred_epochs >= 3);
  CHECK(!guest.paused());
  CHECK_THROWS(std::runtime_error, cp.checkpoint_now(), "no checkpoint now: the guest stayed in the middle of an exchange");
  guest.consistent = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  CHECK(cp.list().back().seq > last);
  cp.rollback(last);  // the write, made while epochs were deferred, is undone
  CHECK(guest.memory()[3 * kPageSize] == kept);
  CHECK(reports.errors().empty());
  cp.stop();
}

TEST("checkpointer: a refused rollback loses no dirty page") {
  MemoryBackend guest(kPages);
  CheckpointConfig config;
  config.interval_ms = 10000;  // epochs only on request
  config.store_bytes = 8 * MiB;
  Checkpointer cp(guest, config, [](const EpochRecord&) {}, [](const std::string&) {});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  guest.write(9, 0, 1);
  uint64_t a = cp.checkpoint_now();
  guest.write(9, 0, 2);
  guest.write(10, 0, 2);
  CHECK_THROWS(std::exception, cp.rollback(a + 5), "is not retained");
  // Pages 9 and 10 were harvested by the refused rollback: still restored.
  cp.rollback(a);
  CHECK_EQ(int(guest.memory()[9 * kPageSize]), 1);
  CHECK_EQ(int(guest.memory()[10 * kPageSize]), 0);
}

TEST("checkpointer: a rollback revives a guest that crashed, unless the backend refuses") {
  for (Mode mode : {Mode::StopAndCopy, Mode::CopyOnWrite}) {
    MemoryBackend guest(kPages);
    CheckpointConfig config;
    config.interval_ms = 10000;  // epochs only on request
    config.store_bytes = 8 * MiB;
    config.mode = mode;
    Checkpointer cp(guest, config, [](const EpochRecord&) {}, [](const std::string&) {});
    guest.write(3, 0, 1);
    guest.set_register(0, 11);
    uint64_t a = cp.checkpoint_now();
    guest.write(3, 0, 2);
    guest.set_register(0, 22);
    guest.state = Backend::GuestState::Ended;  // it crashed
    CHECK_THROWS(std::runtime_error, cp.checkpoint_now(), "the guest has ended");

    guest.revive_refused = "the workload finished";
    CHECK_THROWS(RollbackRefused, cp.rollback(a), "the workload finished");
    CHECK_EQ(int(guest.memory()[3 * kPageSize]), 2);  // nothing changed
    CHECK_EQ(guest.revivals, 0);

    guest.revive_refused.clear();
    RollbackOutcome r = cp.rollback(a);
    CHECK(r.revived);
    CHECK_EQ(guest.revivals, 1);
    CHECK_EQ(int(guest.memory()[3 * kPageSize]), 1);
    CHECK_EQ(guest.registers()[0], uint64_t{11});
    // It runs again: checkpoints are taken and rollbacks are plain ones.
    guest.write(3, 0, 3);
    uint64_t b = cp.checkpoint_now();
    CHECK(b > a);
    CHECK(!cp.rollback(a).revived);
    CHECK_EQ(int(guest.memory()[3 * kPageSize]), 1);
    CHECK(!guest.paused());
  }
}

TEST("the cost predictor forgets a page written once, however dear a fault") {
  auto predictor = make_cost_predictor(8);
  Bitmap written(8);
  written.set(3);
  predictor->observe(written, 1);
  const PageCosts copy_on_write{1000, 100000};  // a fault costs 100 copies: hot above p = 1/100
  Bitmap hot(8);
  predictor->predict(hot, copy_on_write);
  CHECK(hot.test(3));
  Bitmap none(8);
  for (int epoch = 0; epoch < 40; epoch++) predictor->observe(none, 1);
  hot.clear();
  predictor->predict(hot, copy_on_write);
  CHECK_EQ(hot.count(), uint64_t{0});
}

TEST("the cost predictor reads an epoch spent waiting on faults as part of one") {
  // A quarter of 1,000 pages written an epoch, at random: a fault (3000 x 0.25
  // = 750 expected) costs less than keeping a page hot (800). Only even
  // pages, so that no page is hot as the frontier of a run.
  const PageCosts costs{800, 3000, true};
  // The share of the pages written last that are hot next.
  auto hot_after = [&](double progress) {
    auto predictor = make_cost_predictor(2000);
    std::mt19937 random(7);
    std::bernoulli_distribution quarter(0.25);
    Bitmap written(2000), hot(2000);
    for (int epoch = 0; epoch < 30; epoch++) {
      written.clear();
      for (uint64_t p = 0; p < 2000; p += 2) {
        if (quarter(random)) written.set(p);
      }
      predictor->observe(written, progress);
    }
    predictor->predict(hot, costs);
    hot &= written;
    return double(hot.count()) / double(written.count());
  };
  CHECK_EQ(hot_after(1), 0.0);
  // The same writes from a guest that ran a tenth of each epoch: a whole
  // epoch of it writes nearly every page (1 - 0.75^10 = 94 %).
  CHECK_EQ(hot_after(0.1), 1.0);
}

TEST("the cost predictor keeps pages rewritten every few epochs hot between writes, and lets one-off writes go") {
  const PageCosts dirty_log{350, 3000, false}, copy_on_write{350, 3000, true};
  // A sweep over 300 pages, 100 an epoch: each page is written every third epoch.
  auto sweep = make_cost_predictor(1000);
  Bitmap written(1000), hot(1000);
  for (int epoch = 0; epoch < 30; epoch++) {
    written.clear();
    for (uint64_t i = 0; i < 100; i++) written.set((epoch % 3) * 100 + i);
    sweep->observe(written, 1);
  }
  // Each page written last had last been written three epochs before.
  const auto gaps = sweep->rewrite_gaps();
  CHECK_EQ(gaps.size(), size_t{18});
  for (size_t gap = 0; gap < gaps.size(); gap++) CHECK_EQ(gaps[gap], gap == 3 ? uint64_t{100} : uint64_t{0});
  auto swept_hot = [&] {
    uint64_t n = 0;
    for (uint64_t p = 0; p < 300; p++) n += hot.test(p);
    return n;
  };
  // The dirty log: two comparisons before the next write cost less than its fault.
  sweep->predict(hot, dirty_log);
  CHECK_EQ(swept_hot(), uint64_t{300});
  // Copy-on-write can unprotect later: of those, only the pages written next are hot.
  hot.clear();
  sweep->predict(hot, copy_on_write);
  CHECK_EQ(swept_hot(), uint64_t{100});
  for (uint64_t p = 0; p < 100; p++) CHECK(hot.test(p));  // epoch 30 writes pages 0..99

  // A sequential writer that never comes back: only the pages ahead of it are hot.
  auto fill = make_cost_predictor(40000);
  Bitmap filled(40000), ahead(40000);
  for (int epoch = 0; epoch < 30; epoch++) {
    filled.clear();
    for (uint64_t i = 0; i < 1000; i++) filled.set(epoch * 1000 + i);
    fill->observe(filled, 1);
  }
  fill->predict(ahead, dirty_log);
  CHECK_EQ(ahead.count(), uint64_t{1000});
  CHECK_EQ(fill->rewrite_gaps()[0], uint64_t{1000});  // none written before
  // The sweep again, after 20 epochs without writes: longer ago than the gaps followed.
  Bitmap none(1000);
  for (int epoch = 0; epoch < 20; epoch++) sweep->observe(none, 1);
  sweep->observe(written, 1);
  CHECK_EQ(sweep->rewrite_gaps()[0], uint64_t{0});
  CHECK_EQ(sweep->rewrite_gaps()[17], uint64_t{100});
  CHECK(make_history_predictor(1000, 2, 4)->rewrite_gaps().empty());
  CHECK(ahead.test(30000) && ahead.test(30999));
}

TEST("under the dirty log, pages rewritten every ten epochs stay hot through to their next write when that is cheaper") {
  // A sweep over 1000 pages, 100 an epoch: each page is written every tenth
  // epoch, like a merge pass slowed by faults.
  auto sweep = make_cost_predictor(1000);
  Bitmap written(1000);
  for (int epoch = 0; epoch < 40; epoch++) {
    written.clear();
    for (uint64_t i = 0; i < 100; i++) written.set((epoch % 10) * 100 + i);
    sweep->observe(written, 1);
  }
  const auto gaps = sweep->rewrite_gaps();
  CHECK(gaps.size() > 11);  // followed past ten epochs
  CHECK_EQ(gaps[10], uint64_t{100});
  // Nine comparisons cost less than a fault: every page stays hot, none is
  // let go just before its write.
  Bitmap hot(1000);
  sweep->predict(hot, PageCosts{150, 3000, false});
  CHECK_EQ(hot.count(), uint64_t{1000});
  // They cost more: the pages just written (ages 1 and 2) are protected.
  // (Older ages may read hot: once protected, a page cannot become hot.)
  hot.clear();
  sweep->predict(hot, PageCosts{400, 3000, false});
  for (uint64_t p = 800; p < 1000; p++) CHECK(!hot.test(p));
}

TEST("prediction: under every predictor no write escapes, and hot pages cost no fault") {
  for (const char* name : {"history", "frontier", "cost"}) {
    MemoryBackend guest(kPages);
    Reports reports;
    CheckpointConfig config;
    config.interval_ms = 10000;  // checkpoints on request only
    config.retention = 6;
    config.store_bytes = 16 * MiB;
    config.predictor = name;
    Checkpointer cp(guest, config, reports.epochs_sink(), reports.errors_sink());
    std::mt19937_64 rng(11);
    std::map<uint64_t, std::vector<uint8_t>> saved{first_checkpoint(cp, guest)};
    uint64_t frontier = 100;
    for (int round = 0; round < 200; round++) {
      for (uint64_t p = 0; p < 8; p++) guest.write(p, static_cast<uint32_t>(rng() % kPageSize), uint8_t(round));  // hot set
      for (int i = 0; i < 4; i++, frontier = 100 + (frontier - 99) % 150) guest.write(frontier, 0, uint8_t(round));
      if (rng() % 3 == 0) scribble(guest, rng, 5);  // a little noise
      uint64_t seq = cp.checkpoint_now();
      saved[seq] = guest.memory();
      scribble(guest, rng, static_cast<int>(rng() % 6));  // open epoch, unpredictable
      if (rng() % 5 == 0) {
        auto list = cp.list();
        uint64_t target = list[rng() % list.size()].seq;
        cp.rollback(target);
        CHECK(saved.count(target));  // no checkpoint but those requested here
        CHECK(guest.memory() == saved[target]);
      }
    }
    uint64_t hits = 0, misses = 0, predicted = 0;
    for (const EpochRecord& r : reports.epochs()) {
      CHECK_EQ(r.true_positives + r.false_positives, r.predicted);
      hits += r.true_positives;
      misses += r.misses;
      predicted += r.predicted;
    }
    CHECK(predicted > 0);
    CHECK(hits > misses);  // the hot set and the frontier were predicted, mostly
  }
}

TEST("prediction: a hot page that was not written is not stored again") {
  MemoryBackend guest(kPages);
  Reports reports;
  CheckpointConfig config;
  config.interval_ms = 10000;
  config.store_bytes = 16 * MiB;
  config.predictor = "history";
  Checkpointer cp(guest, config, reports.epochs_sink(), reports.errors_sink());
  for (int i = 0; i < 6; i++) {
    guest.write(3, 0, uint8_t(i + 1));
    cp.checkpoint_now();
  }
  cp.checkpoint_now();  // page 3 is hot now and was not written
  const std::vector<EpochRecord> epochs = reports.epochs();
  const EpochRecord& last = epochs.back();
  CHECK_EQ(last.predicted, 1u);
  CHECK_EQ(last.false_positives, 1u);
  CHECK_EQ(last.pages_copied, 0u);
  CHECK_EQ(epochs[epochs.size() - 2].true_positives, 1u);
  CHECK_EQ(epochs[epochs.size() - 2].misses, 0u);
}

TEST("prediction: where nearly every hot page is written, a sample is compared, the rest copied, and rollbacks stay exact") {
  constexpr uint64_t kTable = 2048;  // pages written in every epoch (a sample needs 1,024 hot pages)
  MemoryBackend guest(kTable + 64);
  Reports reports;
  CheckpointConfig config;
  config.interval_ms = 10000;  // checkpoints on request only
  config.retention = 4;
  config.store_bytes = 64 * MiB;
  config.predictor = "history";
  Checkpointer cp(guest, config, reports.epochs_sink(), reports.errors_sink());
  std::map<uint64_t, std::vector<uint8_t>> saved{first_checkpoint(cp, guest)};
  auto epoch = [&](uint64_t pages, uint8_t value) {
    for (uint64_t p = 0; p < pages; p++) guest.write(p, static_cast<uint32_t>((p * 97 + value) % kPageSize), value);
    const uint64_t seq = cp.checkpoint_now();
    saved[seq] = guest.memory();
    return reports.epochs().back();
  };
  for (uint8_t i = 1; i <= 4; i++) epoch(kTable, i);  // the table becomes hot, every hot page written
  for (uint8_t i = 5; i <= 7; i++) {
    const EpochRecord r = epoch(kTable, i);
    CHECK_EQ(r.predicted, kTable);
    CHECK_EQ(r.hot_compared, kTable / 16);
    CHECK_EQ(r.true_positives, kTable);
    CHECK_EQ(r.pages_copied, kTable);
  }
  const uint64_t target = cp.list().front().seq;
  cp.rollback(target);
  CHECK(guest.memory() == saved[target]);
  // Half the table goes quiet: the sample sees it, and the next checkpoint compares them all again.
  const EpochRecord half = epoch(kTable / 2, 8);
  CHECK_EQ(half.hot_compared, kTable / 16);
  CHECK(half.true_positives < kTable * 3 / 4);
  const EpochRecord all = epoch(kTable / 2, 9);
  CHECK_EQ(all.hot_compared, all.predicted);
  CHECK_EQ(all.true_positives, kTable / 2);
  CHECK_EQ(all.pages_copied, kTable / 2);
  for (const EpochRecord& r : reports.epochs()) CHECK_EQ(r.true_positives + r.false_positives, r.predicted);
  const uint64_t newest = cp.list().back().seq;
  guest.write(kTable + 1, 0, 1);
  cp.rollback(newest);
  CHECK(guest.memory() == saved[newest]);
}

TEST("prediction: with the store short of room, old checkpoints make way and rollbacks stay exact") {
  // 160 guest pages next to 256 frames: once the shadow holds most of the
  // guest, each epoch's pages fit only by retiring old checkpoints.
  constexpr uint64_t kGuestPages = 160;
  MemoryBackend guest(kGuestPages);
  Reports reports;
  CheckpointConfig config;
  config.interval_ms = 10000;
  config.retention = 20;
  config.store_bytes = 1 * MiB;
  config.predictor = "history";
  Checkpointer cp(guest, config, reports.epochs_sink(), reports.errors_sink());
  std::mt19937_64 rng(5);
  std::map<uint64_t, std::vector<uint8_t>> saved{first_checkpoint(cp, guest)};
  for (int round = 0; round < 150; round++) {
    for (uint64_t p = 0; p < 24; p++) {
      if (p % 3 || round % 2) guest.write(p, static_cast<uint32_t>(rng() % kPageSize), uint8_t(round));
    }
    scribble(guest, rng, 12, kGuestPages);
    uint64_t seq = cp.checkpoint_now();
    saved[seq] = guest.memory();
    if (rng() % 4 == 0) {
      auto list = cp.list();
      uint64_t target = list[rng() % list.size()].seq;
      cp.rollback(target);
      CHECK(saved.count(target));  // no checkpoint but those requested here
      CHECK(guest.memory() == saved[target]);
    }
  }
  CHECK(reports.errors().empty());
  uint64_t retired = 0, false_positives = 0;
  for (const EpochRecord& r : reports.epochs()) retired += r.retired, false_positives += r.false_positives;
  CHECK(false_positives > 0);  // some hot pages were compared and left alone
  CHECK(retired > 0);          // the store was short of room
  CHECK(cp.list().size() < 20);
}

TEST("prediction: unknown predictors and backends that cannot leave pages writable are refused") {
  MemoryBackend guest(kPages);
  CheckpointConfig config;
  config.store_bytes = 16 * MiB;
  config.predictor = "oracle";
  CHECK_THROWS(std::invalid_argument, Checkpointer(guest, config, [](const EpochRecord&) {}, [](const std::string&) {}),
               "predictor must be");
  CHECK_THROWS(std::invalid_argument, make_history_predictor(10, 5, 4), "1 <= m <= n <= 16");

  // A backend whose tracking re-arms every page says so, and the refusal names it.
  struct RearmsAll : MemoryBackend {
    using MemoryBackend::MemoryBackend;
    std::string leave_writable_unavailable() const override { return "it re-arms every page"; }
  } rearms_all(kPages);
  config.predictor = "cost";
  CHECK_THROWS(std::invalid_argument,
               Checkpointer(rearms_all, config, [](const EpochRecord&) {}, [](const std::string&) {}),
               "prediction needs dirty tracking that can leave pages writable (it re-arms every page)");
  config.predictor = "off";
  Checkpointer cp(rearms_all, config, [](const EpochRecord&) {}, [](const std::string&) {});
  CHECK_THROWS(std::invalid_argument, cp.configure({.predictor = "history"}), "(it re-arms every page)");
  CHECK(cp.config().predictor == "off");
}

// Pauses the guest for a scope, also when a check throws.
struct OperatorPause {
  explicit OperatorPause(MemoryBackend& g) : guest(g) { guest.pause(); }
  ~OperatorPause() { guest.resume(); }
  MemoryBackend& guest;
};

// A guest that writes on its own thread until told to stop, as a vCPU does:
// bursts of writes to random pages, with `gap` between bursts.
class Writer {
 public:
  Writer(MemoryBackend& guest, uint64_t seed, uint64_t pages = kPages, int burst = 20,
         std::chrono::microseconds gap = std::chrono::microseconds(0))
      : thread_([this, &guest, seed, pages, burst, gap] {
          std::mt19937_64 rng(seed);
          while (!stop_.load()) {
            for (int i = 0; i < burst; i++) {
              guest.write(rng() % pages, static_cast<uint32_t>(rng() % kPageSize), static_cast<uint8_t>(rng() | 1));
            }
            guest.set_register(1, rng());
            if (gap.count()) {
              std::this_thread::sleep_for(gap);
            } else {
              std::this_thread::yield();
            }
          }
        }) {}
  ~Writer() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

CheckpointConfig cow_config(uint32_t interval_ms, uint32_t retention, const char* predictor = "off") {
  CheckpointConfig config;
  config.mode = Mode::CopyOnWrite;
  config.interval_ms = interval_ms;
  config.retention = retention;
  config.store_bytes = 16 * MiB;
  config.predictor = predictor;
  return config;
}

TEST("copy-on-write: a guest writing on its own thread through timed epochs rolls back exactly") {
  for (const char* predictor : {"off", "history", "frontier", "cost"}) {
    for (unsigned retention : {1u, 8u}) {
      MemoryBackend guest(kPages);
      Reports reports;
      Checkpointer cp(guest, cow_config(2, retention, predictor), reports.epochs_sink(), reports.errors_sink());
      CHECK(cp.totals().mode == Mode::CopyOnWrite);
      Writer writer(guest, retention * 31 + predictor[0]);
      std::mt19937_64 rng(retention);
      std::map<uint64_t, std::pair<std::vector<uint8_t>, std::vector<uint64_t>>> saved;
      for (int round = 0; round < 40; round++) {
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
        {
          OperatorPause paused(guest);  // the writer stops; timed epochs go on
          uint64_t seq = cp.checkpoint_now();
          saved[seq] = {guest.memory(), guest.registers()};
        }
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
        if (rng() % 3 == 0) {
          OperatorPause paused(guest);
          std::vector<uint64_t> retained;
          for (const CheckpointInfo& c : cp.list()) {
            if (saved.count(c.seq)) retained.push_back(c.seq);
          }
          bool exact = true;
          if (!retained.empty()) {
            uint64_t target = retained[rng() % retained.size()];
            RollbackOutcome r;
            try {
              r = cp.rollback(target);
            } catch (const RollbackRefused&) {
              continue;  // a timed epoch retired it meanwhile
            }
            exact = r.result.seq == target && guest.memory() == saved[target].first &&
                    guest.registers() == saved[target].second;
            if (!exact) {
              auto m = guest.memory();
              for (uint64_t p = 0; p < kPages; p++) {
                if (std::memcmp(&m[p * kPageSize], &saved[target].first[p * kPageSize], kPageSize)) {
                  std::printf("     page %lu differs after rollback to %lu (round %d)\n", p, target, round);
                }
              }
            }
          }
          CHECK(exact);
        }
      }
      writer.finish();
      CHECK(reports.errors().empty());
      uint64_t faults = 0;
      for (const EpochRecord& r : reports.epochs()) {
        CHECK(r.mode == Mode::CopyOnWrite);
        CHECK_EQ(r.true_positives + r.false_positives, r.predicted);
        faults += r.faults;
      }
      CHECK(faults > 0);
      CHECK(guest.write_faults > 0);
      cp.stop();
      for (uint64_t p = 0; p < kPages; p++) CHECK(!guest.is_protected(p));  // nothing left protected
    }
  }
}

TEST("copying ahead: a guest writing on its own thread through timed epochs rolls back exactly") {
  for (const char* predictor : {"off", "history", "frontier", "cost"}) {
    MemoryBackend guest(kPages);
    guest.harvest_running = true;
    Reports reports;
    CheckpointConfig config;
    config.interval_ms = 4;  // copied ahead at 2, 3, 3.5 and 3.75 ms
    config.retention = 4;
    config.store_bytes = 16 * MiB;
    config.predictor = predictor;
    Checkpointer cp(guest, config, reports.epochs_sink(), reports.errors_sink());
    // Fast enough to write pages again after their copy ahead, slow enough to leave some alone.
    Writer writer(guest, predictor[0], kPages, 4, std::chrono::microseconds(50));
    std::mt19937_64 rng(predictor[1]);
    std::map<uint64_t, std::vector<uint8_t>> saved;
    int checked = 0;
    for (int round = 0; round < 60; round++) {
      // Rollbacks land anywhere in an epoch: before, between and after its copies ahead.
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 5000));
      OperatorPause paused(guest);  // the writer stops; timed epochs and copies ahead go on
      if (rng() % 2) {
        saved[cp.checkpoint_now()] = guest.memory();
        continue;
      }
      std::vector<uint64_t> retained;
      for (const CheckpointInfo& c : cp.list()) {
        if (saved.count(c.seq)) retained.push_back(c.seq);
      }
      if (retained.empty()) continue;
      const uint64_t target = retained[rng() % retained.size()];
      try {
        cp.rollback(target);
      } catch (const RollbackRefused&) {
        continue;  // a timed epoch retired it meanwhile
      }
      CHECK(guest.memory() == saved[target]);
      checked++;
    }
    writer.finish();
    CHECK(checked > 5);
    CHECK(reports.errors().empty());
    uint64_t ahead = 0;
    for (const EpochRecord& r : reports.epochs()) {
      CHECK(r.pages_precopied <= r.dirty_pages);
      CHECK_EQ(r.pages_copied + r.pages_precopied, r.dirty_pages);
      ahead += r.pages_precopied;
    }
    // Predictors keep pages they expect written again writable (frontier:
    // every written page), and those are not copied ahead; without one,
    // everything not written again is.
    if (std::string(predictor) == "frontier") CHECK_EQ(ahead, uint64_t{0});
    if (std::string(predictor) == "off") CHECK(ahead > 0);
  }
}

TEST("copying ahead: only where asked for and where the backend can harvest a running guest") {
  for (bool can_harvest : {false, true}) {
    for (bool precopy : {false, true}) {
      MemoryBackend guest(kPages);
      guest.harvest_running = can_harvest;
      Reports reports;
      CheckpointConfig config;
      config.interval_ms = 4;
      config.store_bytes = 16 * MiB;
      config.precopy = precopy;
      Checkpointer cp(guest, config, reports.epochs_sink(), reports.errors_sink());
      {
        Writer writer(guest, 5, kPages, 4, std::chrono::microseconds(50));
        while (reports.epochs().size() < 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      cp.stop();
      uint64_t ahead = 0;
      for (const EpochRecord& r : reports.epochs()) ahead += r.pages_precopied;
      CHECK_EQ(ahead > 0, can_harvest && precopy);
    }
  }
}

TEST("copy-on-write: the pause copies only hot pages; a write's pre-image is saved at its fault") {
  MemoryBackend guest(kPages);
  Reports reports;
  Checkpointer cp(guest, cow_config(10000, 8), reports.epochs_sink(), reports.errors_sink());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (uint64_t p = 0; p < 10; p++) guest.write(p, 0, 1);
  uint64_t a = cp.checkpoint_now();
  for (uint64_t p = 0; p < kPages; p++) CHECK(guest.is_protected(p));
  const uint64_t faults_before = guest.write_faults;
  guest.write(3, 0, 2);
  guest.write(3, 1, 2);  // the second write to the page takes no fault
  CHECK_EQ(guest.write_faults - faults_before, 1u);
  CHECK(!guest.is_protected(3));
  cp.checkpoint_now();
  const EpochRecord last = reports.epochs().back();
  CHECK_EQ(last.pages_copied, 0u);  // no prediction: nothing copied in the pause
  CHECK_EQ(last.dirty_pages, 1u);
  CHECK_EQ(last.faults, 1u);
  CHECK(guest.is_protected(3));  // protected again for the next epoch
  auto list = cp.list();
  CHECK_EQ(list[list.size() - 2].pages, 1u);  // checkpoint a's undo log: page 3
  cp.rollback(a);
  CHECK_EQ(int(guest.memory()[3 * kPageSize]), 1);
  CHECK_EQ(int(guest.memory()[3 * kPageSize + 1]), 0);
}

TEST("copy-on-write: VMM writes fault like the guest's and are rolled back") {
  MemoryBackend guest(kPages);
  Reports reports;
  Checkpointer cp(guest, cow_config(10000, 8), reports.epochs_sink(), reports.errors_sink());
  guest.write(40, 0, 7);
  uint64_t a = cp.checkpoint_now();
  guest.pause();
  guest.vmm_write(40, 0xab);  // the guest is paused; the handler still serves the fault
  guest.vmm_write(41, 0xcd);
  guest.resume();
  cp.checkpoint_now();
  cp.rollback(a);
  CHECK_EQ(int(guest.memory()[40 * kPageSize]), 7);
  CHECK_EQ(int(guest.memory()[40 * kPageSize + 1]), 0);
  CHECK_EQ(int(guest.memory()[41 * kPageSize]), 0);
  CHECK(reports.errors().empty());
}

TEST("copy-on-write: predicted pages take no fault, even ahead of their first write") {
  MemoryBackend guest(kPages);
  Reports reports;
  Checkpointer cp(guest, cow_config(10000, 4, "frontier"), reports.epochs_sink(), reports.errors_sink());
  std::map<uint64_t, std::vector<uint8_t>> saved;
  uint64_t next = 0;
  for (int round = 0; round < 30; round++) {
    for (int i = 0; i < 4; i++, next = (next + 1) % kPages) guest.write(next, 0, uint8_t(round + 1));  // a sequential writer
    saved[cp.checkpoint_now()] = guest.memory();
  }
  uint64_t tp = 0, misses = 0;
  for (const EpochRecord& r : reports.epochs()) tp += r.true_positives, misses += r.misses;
  CHECK(tp > 3 * misses);  // the frontier ran ahead of the writer
  auto list = cp.list();
  uint64_t target = list.front().seq;
  cp.rollback(target);
  CHECK(guest.memory() == saved[target]);
}

TEST("copy-on-write: a store too small for the pre-images stops checkpointing, and no writer stays blocked") {
  MemoryBackend guest(2 * kPages);
  Reports reports;
  CheckpointConfig config = cow_config(10000, 100);
  config.store_bytes = 1 * MiB;  // 256 frames: fewer than the pages the writer touches
  Checkpointer cp(guest, config, reports.epochs_sink(), reports.errors_sink());
  cp.checkpoint_now();
  for (uint64_t p = 0; p < 2 * kPages; p++) guest.write(p, 0, 1);  // the last ones find no room
  for (uint64_t p = 0; p < 2 * kPages; p++) guest.write(p, 1, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK_THROWS(std::runtime_error, cp.checkpoint_now(), "copy-on-write could not save a pre-image");
  CHECK_THROWS(std::runtime_error, cp.checkpoint_now(), "checkpointing is disabled");
  CHECK_EQ(reports.errors().size(), 1u);
  CHECK(reports.errors()[0].find("copy-on-write could not save a pre-image") != std::string::npos);
  CHECK(cp.list().empty());
  for (uint64_t p = 0; p < 2 * kPages; p++) CHECK(!guest.is_protected(p));
  cp.configure({.enabled = true});  // starts again: the store is empty again
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  guest.write(5, 0, 9);
  CHECK(cp.checkpoint_now() > 0);
}

TEST("copy-on-write: stopping with a writer running leaves nothing protected") {
  for (int i = 0; i < 5; i++) {
    MemoryBackend guest(kPages);
    auto cp = std::make_unique<Checkpointer>(guest, cow_config(1, 4), [](const EpochRecord&) {}, [](const std::string&) {});
    Writer writer(guest, 99 + i);
    std::this_thread::sleep_for(std::chrono::milliseconds(10 + i * 3));
    cp.reset();  // the writer may be waiting in a fault right now
    writer.finish();
    for (uint64_t p = 0; p < kPages; p++) CHECK(!guest.is_protected(p));
  }
}

TEST("copy-on-write falls back to stop-and-copy where write protection is missing, and says why") {
  MemoryBackend guest(kPages);
  guest.cow_unavailable = "no write protection in this test";
  Reports reports;
  Checkpointer cp(guest, cow_config(10000, 8), reports.epochs_sink(), reports.errors_sink());
  CHECK(cp.totals().mode == Mode::StopAndCopy);
  CHECK_EQ(cp.totals().fallback_reason, std::string("no write protection in this test"));
  guest.write(2, 0, 1);
  uint64_t a = cp.checkpoint_now();
  guest.write(2, 0, 2);
  cp.checkpoint_now();
  CHECK(reports.epochs().back().mode == Mode::StopAndCopy);
  CHECK_EQ(reports.epochs().back().fallback_reason, std::string("no write protection in this test"));
  cp.rollback(a);
  CHECK_EQ(int(guest.memory()[2 * kPageSize]), 1);
  CHECK_EQ(guest.write_faults, 0u);
}

TEST("switching modes while running starts over and stays exact") {
  MemoryBackend guest(kPages);
  Reports reports;
  CheckpointConfig config = cow_config(10000, 8);
  config.mode = Mode::StopAndCopy;
  Checkpointer cp(guest, config, reports.epochs_sink(), reports.errors_sink());
  std::mt19937_64 rng(3);
  for (Mode mode : {Mode::CopyOnWrite, Mode::StopAndCopy, Mode::CopyOnWrite}) {
    cp.configure({.mode = mode});
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(cp.totals().mode == mode);
    scribble(guest, rng, 50);
    uint64_t a = cp.checkpoint_now();
    auto memory = guest.memory();
    scribble(guest, rng, 50);
    cp.checkpoint_now();
    scribble(guest, rng, 50);
    cp.rollback(a);
    CHECK(guest.memory() == memory);
  }
  CHECK(reports.errors().empty());
  CHECK_THROWS(std::invalid_argument, parse_mode("fast"), "mode must be \"stop-and-copy\" or \"cow\"");
}

TEST("costs are calibrated at start and reported") {
  MemoryBackend guest(kPages);
  Checkpointer cp(guest, cow_config(10000, 8), [](const EpochRecord&) {}, [](const std::string&) {});
  CostEstimates c = cp.totals().costs;
  CHECK(c.copy_ns_calibrated > 0 && c.copy_ns_calibrated < 1e6);
  CHECK(c.dirty_log_fault_ns > 0);
  CHECK(c.cow_fault_ns > 0);
}

int main() { return check::run_all(); }
