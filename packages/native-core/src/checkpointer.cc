// Longer than the other units (about 650 lines), and on purpose: what is
// left here is one job, the loop and the two kinds of pause it takes, and
// they share one set of page bitmaps (dirty, carried, writable) whose rule
// is that no dirty bit is ever dropped, on any path, errors included. That
// rule is easiest to check with every path in one file. What is a job of
// its own lives beside it: cow_fault_server, hot_pages, cost_model.
#include "uckpt/core/checkpointer.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "uckpt/core/clock.h"

namespace uckpt::core {
namespace {

using Clock = std::chrono::steady_clock;

// Undoes one backend pause on every way out of a scope.
class PauseGuard {
 public:
  explicit PauseGuard(Backend& backend) : backend_(backend) { backend_.pause(); }
  // Takes over a pause already made.
  PauseGuard(Backend& backend, std::adopt_lock_t) : backend_(backend) {}
  ~PauseGuard() { backend_.resume(); }
  PauseGuard(const PauseGuard&) = delete;
  PauseGuard& operator=(const PauseGuard&) = delete;

 private:
  Backend& backend_;
};

// A predictor leaves pages writable and untracked, which not every
// backend's dirty tracking can.
void require_leave_writable(const Backend& backend, const CheckpointConfig& config) {
  if (config.predictor == "off") return;
  const std::string why = backend.leave_writable_unavailable();
  if (!why.empty()) throw std::invalid_argument("prediction needs dirty tracking that can leave pages writable (" + why + ")");
}

// Pauses the guest at a moment its backend calls consistent for a
// checkpoint or a rollback, trying `tries` times 250 µs apart: the guest
// runs between tries, so that what is in flight can land. Returns whether
// it did; the guest is paused either way.
bool pause_when_consistent(Backend& backend, int tries) {
  constexpr auto kBetweenTries = std::chrono::microseconds(250);
  for (int attempt = 1;; attempt++) {
    backend.pause();
    if (backend.checkpoint_consistent()) return true;
    if (attempt == tries) return false;
    backend.resume();
    std::this_thread::sleep_for(kBetweenTries);
  }
}
// An epoch's checkpoint waits this many tries (about 5 ms); then it is
// deferred to the next epoch, which loses nothing: the dirty log and the
// open copy-on-write log carry on.
constexpr int kEpochTries = 20;
// A checkpoint that must be taken (the first, one asked for) or a rollback
// waits longer (about 50 ms); the first and a rollback then go ahead anyway:
// a guest must not go unprotected, or unrecovered, because something
// outside it stays busy.
constexpr int kPatientTries = 200;

// A rollback waits, too: what the live guest leaves half done with the
// host's services would otherwise meet the restored one. A guest that has
// ended cannot finish it.
PauseGuard pause_for_rollback(Backend& backend) {
  if (backend.guest_state() == Backend::GuestState::Ended) {
    backend.pause();
  } else {
    pause_when_consistent(backend, kPatientTries);
  }
  return PauseGuard(backend, std::adopt_lock);
}

// Checked before anything is built (the cost model calibrates as it is).
const CheckpointConfig& validated(const CheckpointConfig& config, const Backend& backend) {
  validate(config);
  require_leave_writable(backend, config);
  return config;
}

}  // namespace

Checkpointer::Checkpointer(Backend& backend, const CheckpointConfig& config, EpochSink on_epoch, ErrorSink on_error)
    : backend_(backend),
      on_epoch_(std::move(on_epoch)),
      on_error_(std::move(on_error)),
      copiers_(validated(config, backend).copy_threads),
      ring_(backend, config.store_bytes, config.retention, copiers_),
      dirty_(backend.page_count()),
      carry_(backend.page_count()),
      writable_(backend.page_count()),
      precopy_(backend.page_count()),
      rearm_(backend.page_count()),
      hot_pages_(backend.page_count()),
      cost_model_(backend, config),
      written_(backend.page_count()),
      lost_(backend.page_count()),
      config_(config),
      cow_(backend, ring_, ring_mu_, [this] {
        std::lock_guard<std::mutex> lock(mu_);
        wake_.notify_all();
      }) {
  totals_.store_bound = ring_.store_bound();
  hot_pages_.use_predictor(config.predictor);
  use_mode(config.mode);
  thread_ = std::thread([this] { loop(); });
}

Checkpointer::~Checkpointer() { stop(); }

void Checkpointer::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // No writer may stay blocked on a page nobody will unprotect.
  cow_.stop();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& p : requests_) {
    p->reply.set_exception(std::make_exception_ptr(std::runtime_error("checkpointing was stopped")));
  }
  requests_.clear();
}

void Checkpointer::configure(const Change& change) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckpointConfig next = config_;
  next.mode = change.mode.value_or(next.mode);
  next.interval_ms = change.interval_ms.value_or(next.interval_ms);
  next.retention = change.retention.value_or(next.retention);
  next.enabled = change.enabled.value_or(next.enabled);
  next.predictor = change.predictor.value_or(next.predictor);
  next.precopy = change.precopy.value_or(next.precopy);
  validate(next);
  require_leave_writable(backend_, next);
  config_ = next;
  wake_.notify_all();
}

CheckpointConfig Checkpointer::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

Checkpointer::Reply Checkpointer::submit(Request request) {
  auto pending = std::make_unique<Pending>();
  pending->request = std::move(request);
  std::future<Reply> reply = pending->reply.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) throw std::runtime_error("checkpointing was stopped");
    requests_.push_back(std::move(pending));
  }
  wake_.notify_all();
  return reply.get();
}

uint64_t Checkpointer::checkpoint_now() { return std::get<uint64_t>(submit(CheckpointNow{})); }

RollbackOutcome Checkpointer::rollback(std::optional<uint64_t> seq) {
  return std::get<RollbackOutcome>(submit(Rollback{seq}));
}

void Checkpointer::corrupt_for_test(uint64_t seq, uint64_t pfn) { submit(Corrupt{seq, pfn}); }

std::vector<CheckpointInfo> Checkpointer::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_;
}

Totals Checkpointer::totals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return totals_;
}

void Checkpointer::loop() {
  Clock::time_point next = Clock::now();
  Clock::time_point opened = next;  // when the epoch under way began
  unsigned precopy_rounds = 0;      // in this epoch
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto due = [&] { return config_.enabled && enabled_in_ring_ && Clock::now() >= next; };
    // Halfway to the checkpoint, then halfway again, four times: at 1/2,
    // 3/4, 7/8 and 15/16 of the interval. Each round copies about half of
    // what the previous left, and the pause the last sixteenth.
    auto precopy_at = [&](const CheckpointConfig& c) {
      constexpr unsigned kRounds = 4;
      const bool wanted = c.precopy && c.enabled && enabled_in_ring_ && mode_ == Mode::StopAndCopy &&
                          backend_.can_harvest_running() && precopy_rounds < kRounds;
      return wanted ? next - (next - opened) / (2 << precopy_rounds) : Clock::time_point::max();
    };
    auto wanted = [&] {
      return stopping_ || !requests_.empty() || config_.enabled != enabled_in_ring_ ||
             config_.retention != ring_.retention() || config_.mode != mode_requested_ || due() ||
             Clock::now() >= precopy_at(config_);
    };
    while (!wanted()) {
      if (config_.enabled && enabled_in_ring_) {
        wake_.wait_until(lock, std::min(next, precopy_at(config_)));
      } else {
        wake_.wait(lock);
      }
    }
    if (stopping_) return;
    const CheckpointConfig config = config_;
    auto requests = std::move(requests_);
    requests_.clear();
    lock.unlock();
    const Clock::time_point next_before = next;

    if (config.retention != ring_.retention()) {
      std::lock_guard<std::mutex> ring_lock(ring_mu_);
      ring_.set_retention(config.retention);
    }
    if (config.predictor != hot_pages_.predictor_name()) hot_pages_.use_predictor(config.predictor);
    if (config.mode != mode_requested_) {
      if (enabled_in_ring_) apply_enabled(false);  // starts over in the new mode
      use_mode(config.mode);
    }
    if (config.enabled != enabled_in_ring_) {
      apply_enabled(config.enabled);
      // Enabling took the first checkpoint: the next is an interval away.
      next = Clock::now() + std::chrono::milliseconds(config.interval_ms);
    }
    for (auto& pending : requests) {
      // Published before the reply, so the caller sees what its request did.
      try {
        Reply reply = serve(pending->request);
        publish();
        pending->reply.set_value(std::move(reply));
      } catch (...) {
        publish();
        pending->reply.set_exception(std::current_exception());
      }
    }
    if (config.enabled && enabled_in_ring_ && Clock::now() >= next) {
      const auto late = Clock::now() - next;
      next += std::chrono::milliseconds(config.interval_ms);
      if (next < Clock::now()) next = Clock::now() + std::chrono::milliseconds(config.interval_ms);
      epoch(false, std::chrono::duration_cast<std::chrono::nanoseconds>(late).count());
      // A pause longer than the interval must not starve the guest: it
      // runs at least half an interval before the next one.
      next = std::max(next, Clock::now() + std::chrono::microseconds(config.interval_ms * 500));
    } else if (!requests.empty()) {
      next = Clock::now() + std::chrono::milliseconds(config.interval_ms);
    } else if (Clock::now() >= precopy_at(config)) {
      precopy();
      do precopy_rounds++;  // rounds whose time passed meanwhile are skipped
      while (Clock::now() >= precopy_at(config));
    }
    if (next != next_before) opened = Clock::now(), precopy_rounds = 0;
    publish();
    settle_store();
    lock.lock();
  }
}

void Checkpointer::apply_enabled(bool enabled) {
  if (!enabled) {
    std::lock_guard<std::mutex> lock(ring_mu_);
    cow_.unprotect_all();
    cow_.clear_faulted();
    ring_.clear();
    carry_.clear();
    enabled_in_ring_ = false;
    backend_.stop_tracking();
    return;
  }
  hot_pages_.restart_predictor();  // forget what it learnt before
  try {
    pause_when_consistent(backend_, kPatientTries);
    PauseGuard paused(backend_, std::adopt_lock);
    std::lock_guard<std::mutex> lock(ring_mu_);
    cow_.clear_failure();
    // Tracking starts now: what was written before is in the first checkpoint.
    dirty_.clear();
    backend_.harvest_dirty(dirty_);
    hot_pages_.clear();
    if (mode_ == Mode::CopyOnWrite) {
      // Nothing to copy: every page is protected instead, and saved at its first write.
      ring_.begin_open();
      cow_.clear_faulted();
      Bitmap& none_hot = hot_pages_.next();
      none_hot.clear();
      open_epoch_cow(none_hot, dirty_, nullptr);
    } else {
      ring_.begin();
      backend_.rearm(dirty_);  // every writable page has its bit set: this protects them all
    }
    carry_.clear();
    enabled_in_ring_ = true;
  } catch (const std::exception& e) {
    fail(e.what());
  }
}

void Checkpointer::use_mode(Mode requested) {
  mode_requested_ = requested;
  std::string why;
  if (requested == Mode::CopyOnWrite) {
    why = backend_.write_protect_unavailable();
    if (why.empty() && !cow_.running()) {
      try {
        cow_.start();
      } catch (const std::exception& e) {
        why = e.what();
      }
    }
  } else {
    cow_.stop();
  }
  mode_ = why.empty() ? requested : Mode::StopAndCopy;
  fallback_reason_ = why;
  {
    std::lock_guard<std::mutex> lock(ring_mu_);
    ring_.set_copy_on_write(mode_ == Mode::CopyOnWrite);
  }
  cost_model_.use_mode(mode_);
  std::lock_guard<std::mutex> lock(mu_);
  totals_.mode = mode_;
  totals_.fallback_reason = fallback_reason_;
  totals_.costs = cost_model_.estimates();
}

Checkpointer::Reply Checkpointer::serve(const Request& request) {
  if (!enabled_in_ring_ && !std::holds_alternative<Corrupt>(request)) {
    throw std::runtime_error("checkpointing is disabled");
  }
  if (std::holds_alternative<CheckpointNow>(request)) {
    if (backend_.guest_state() == Backend::GuestState::Ended) throw std::runtime_error("the guest has ended");
    if (!epoch(true)) throw std::runtime_error("no checkpoint now: the guest stayed in the middle of an exchange with the host's services; try again");
    if (!enabled_in_ring_) throw std::runtime_error("the checkpoint failed: " + totals().last_error);
    return ring_.latest_seq();
  }
  if (const auto* corrupt = std::get_if<Corrupt>(&request)) {
    std::lock_guard<std::mutex> lock(ring_mu_);
    ring_.corrupt_for_test(corrupt->seq, corrupt->pfn);
    return uint64_t{0};
  }
  const auto& rollback = std::get<Rollback>(request);
  const uint64_t start = now_ns();
  RollbackResult result;
  std::string failure;
  bool revived = false;
  if (mode_ == Mode::CopyOnWrite) {
    PauseGuard paused = pause_for_rollback(backend_);
    std::lock_guard<std::mutex> lock(ring_mu_);
    if (!cow_.failure().empty()) throw std::runtime_error(cow_.failure());
    const bool revive = must_revive();
    backend_.before_rollback();
    dirty_.clear();
    backend_.harvest_dirty(dirty_);
    dirty_ |= carry_;
    written_.clear();  // the pages written back
    try {
      // The core's own writes must not fault on protected pages: they are
      // unprotected first (and protected again below).
      result = ring_.rollback(rollback.seq, dirty_, [&](const std::vector<uint64_t>& pages) {
        for (uint64_t pfn : pages) written_.set(pfn);
        cow_.unprotect(written_);
      });
    } catch (...) {
      carry_ = dirty_;  // refused: the pages written since stay to be harvested
      throw;
    }
    carry_.clear();
    backend_.after_rollback();
    cow_.clear_faulted();
    try {
      ring_.fill_open(hot_pages_.hot());  // hot pages start the new open log like any epoch's
      dirty_ |= written_;
      open_epoch_cow(hot_pages_.hot(), dirty_, nullptr);
    } catch (const std::exception& e) {
      failure = std::string("after a rollback: ") + e.what();
    }
    if (revive) backend_.revive(), revived = true;
  } else {
    PauseGuard paused = pause_for_rollback(backend_);
    std::lock_guard<std::mutex> lock(ring_mu_);
    const bool revive = must_revive();
    backend_.before_rollback();
    dirty_.clear();
    backend_.harvest_dirty(dirty_);
    dirty_ |= carry_;
    dirty_ |= hot_pages_.hot();  // hot pages may have been written: restore them too
    try {
      result = ring_.rollback(rollback.seq, dirty_);
    } catch (...) {
      carry_ = dirty_;  // refused: the pages written since stay to be harvested
      throw;
    }
    carry_.clear();
    backend_.after_rollback();
    rearm_after(hot_pages_.hot());  // hot pages stay writable
    if (revive) backend_.revive(), revived = true;
  }
  if (!failure.empty()) {
    fail(failure);  // the guest was restored, but is no longer protected
    throw std::runtime_error(failure);
  }
  std::lock_guard<std::mutex> lock(mu_);
  totals_.rollbacks++;
  return RollbackOutcome{result, now_ns() - start, revived};
}

// A rollback of a guest whose run has ended brings it back, where the
// backend allows it (a crash, not a clean finish); refused before anything
// changes otherwise. Paused: the guest's state cannot change meanwhile.
bool Checkpointer::must_revive() {
  if (backend_.guest_state() != Backend::GuestState::Ended) return false;
  const std::string why = backend_.revive_refusal();
  if (!why.empty()) throw RollbackRefused(why);
  return true;
}

// Into dirty_: protected pages from the dirty log, hot pages by comparing
// them with the newest checkpoint, and anything carried over.
void Checkpointer::collect_written() {
  dirty_.clear();
  backend_.harvest_dirty(dirty_);
  // A page is writable exactly when its dirty bit is set (re-protecting
  // clears it): only these can be left writable into the next epoch.
  writable_ = dirty_;
  dirty_.and_not(hot_pages_.hot());
  find_hot_changed();
  dirty_ |= hot_pages_.changed();
  dirty_ |= carry_;
}

// Every page that is writable now and is not hot next gets protected again.
void Checkpointer::rearm_after(const Bitmap& next_hot) {
  rearm_ = dirty_;
  rearm_ |= hot_pages_.hot();
  rearm_.and_not(next_hot);
  backend_.rearm(rearm_);
  hot_pages_.set_hot(next_hot);
}

bool Checkpointer::epoch(bool requested, uint64_t late_ns) {
  const Backend::GuestState state = backend_.guest_state();
  if (state == Backend::GuestState::Ended || (state == Backend::GuestState::Paused && !requested)) {
    std::lock_guard<std::mutex> lock(mu_);
    totals_.skipped_epochs++;
    return true;
  }
  EpochRecord r{};
  r.start_ns = now_ns();
  r.late_ns = late_ns;
  r.wall_ms = now_ns(CLOCK_REALTIME) / 1000000;
  r.mode = mode_;
  r.fallback_reason = fallback_reason_;
  uint64_t fault_service_ns = 0;
  try {
    if (!pause_when_consistent(backend_, requested ? kPatientTries : kEpochTries)) {
      backend_.resume();
      std::lock_guard<std::mutex> lock(mu_);
      totals_.deferred_epochs++;
      return false;
    }
    PauseGuard paused(backend_, std::adopt_lock);
    r.start_ns = now_ns();  // the pause starts here, not with the tries
    std::lock_guard<std::mutex> lock(ring_mu_);
    if (mode_ == Mode::CopyOnWrite) {
      fault_service_ns = epoch_cow(r);
    } else {
      epoch_stop_and_copy(r);
    }
    // Under the lock: the fault handler fills the store while the guest runs.
    r.store_bytes = ring_.store_bytes();
    r.retained = static_cast<uint32_t>(ring_.size());
  } catch (const std::exception& e) {
    fail(e.what());
    return true;
  }
  const uint64_t resumed = now_ns();
  cost_model_.resumed(resumed);
  r.pause_ns = resumed - r.start_ns;
  // The next epoch stores the hot pages that change and about as many
  // written protected pages as this one did.
  frames_next_epoch_ = std::max<uint64_t>(r.pages_copied, hot_pages_.hot().count() + r.misses);
  cost_model_.refresh(r.pages_copied, r.copy_ns, r.faults, fault_service_ns);
  {
    std::lock_guard<std::mutex> lock(mu_);
    totals_.epochs++;
    totals_.faults += r.mode == Mode::CopyOnWrite ? r.faults : 0;
    totals_.costs = cost_model_.estimates();
  }
  on_epoch_(r);
  return true;
}

void Checkpointer::epoch_stop_and_copy(EpochRecord& r) {
  const uint64_t paused_at = now_ns();
  collect_written();
  written_ = dirty_;
  const uint64_t staged = ring_.add_staged(written_);
  const uint64_t written = written_.count();
  hot_pages_.report(r);
  r.misses = written - hot_pages_.changed().count();
  // Staged pages the dirty log shows again were written after their copy ahead.
  const uint64_t faulted_again = dirty_.count() + staged - written;
  r.faults = r.misses + faulted_again;  // each took a dirty-log write-protection fault
  r.fault_ns_estimate = static_cast<uint64_t>(double(r.faults) * cost_model_.estimates().dirty_log_fault_ns);
  const uint64_t harvested = now_ns();
  // Predicting and re-arming need only the written set, and the copies
  // only that the guest stays paused (the dirty log protects guest
  // mappings; the copies read through the VMM's): this thread predicts and
  // re-arms while the others copy, then copies too.
  uint64_t rearm_ns = 0;
  TakeResult taken;
  try {
    taken = ring_.take(dirty_, [&] {
      const uint64_t start = now_ns();
      Bitmap& next_hot = hot_pages_.next();
      next_hot.clear();
      if (Predictor* predictor = hot_pages_.predictor()) {
        predictor->observe(written_, cost_model_.guest_progress(r.start_ns, r.fault_ns_estimate));
        r.least_tracking_ns = cost_model_.least_tracking_ns(predictor->rewrite_gaps());
        predictor->predict(next_hot, cost_model_.page_costs());
        // A protected page cannot be made writable ahead of its first
        // write: leaving it out of the re-protection would change nothing.
        next_hot &= writable_;
      }
      rearm_after(next_hot);
      rearm_ns = now_ns() - start;
    });
  } catch (...) {
    carry_ = dirty_;
    throw;
  }
  carry_.clear();
  r.harvest_ns = harvested - paused_at;
  r.copy_ns = now_ns() - harvested;
  r.rearm_ns = rearm_ns;
  r.seq = taken.seq;
  r.pages_copied = taken.pages_copied;
  r.pages_precopied = taken.pages_staged;
  r.precopy_ns = epoch_precopy_ns_;
  epoch_precopy_ns_ = 0;
  r.retired = taken.checkpoints_retired;
  r.dirty_pages = r.pages_copied + r.pages_precopied;
}

// Stop-and-copy, between checkpoints: the pages written so far this epoch
// that will not be hot are protected again and copied while the guest
// runs, on this thread alone (the vCPU has the other CPU); the checkpoint
// then copies only those written again, and what was written since.
void Checkpointer::precopy() {
  if (backend_.guest_state() != Backend::GuestState::Running) return;
  const uint64_t start = now_ns();
  std::string failure;
  {
    std::lock_guard<std::mutex> lock(ring_mu_);
    try {
      precopy_.clear();
      backend_.harvest_dirty(precopy_);
      precopy_.and_not(hot_pages_.hot());  // compared at the checkpoint: they stay writable
      // The harvest also handed over the backend's own writes, which no
      // later harvest shows again: whatever is not staged is carried.
      carry_ |= precopy_;
      if (Predictor* predictor = hot_pages_.predictor()) {
        predictor->drop_hot_if_written(precopy_, cost_model_.page_costs());
      }
      if (ring_.stage(precopy_, [&] { backend_.rearm(precopy_); })) carry_.and_not(precopy_);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  if (!failure.empty()) return fail(failure);
  epoch_precopy_ns_ += now_ns() - start;
}

// Copy-on-write, paused, ring_mu_ held: the open log already holds the
// pre-image of every protected page written since the last checkpoint.
uint64_t Checkpointer::epoch_cow(EpochRecord& r) {
  if (!cow_.failure().empty()) throw std::runtime_error(cow_.failure());
  const uint64_t paused_at = now_ns();
  dirty_.clear();
  backend_.harvest_dirty(dirty_);
  dirty_ |= carry_;
  carry_.clear();
  find_hot_changed();
  written_ = cow_.faulted();
  written_ |= hot_pages_.changed();
  // Every page the dirty log saw written was either hot (copied when the
  // epoch opened) or protected (saved at its fault). Anything else would
  // be a write whose pre-image is lost: never continue past one.
  lost_ = dirty_;
  lost_.and_not(cow_.faulted());
  lost_.and_not(hot_pages_.hot());
  if (uint64_t lost = lost_.count()) {
    uint64_t first = 0;
    lost_.for_each([&](uint64_t pfn) { first = first ? first : pfn + 1; });
    throw std::logic_error("copy-on-write: " + std::to_string(lost) + " written pages (the first " +
                           std::to_string(first - 1) + ") were neither protected nor copied");
  }
  hot_pages_.report(r);
  r.misses = cow_.faulted().count();
  const CowFaultServer::Served served = cow_.take_served();
  r.faults = served.faults;
  r.fault_ns_estimate =
      static_cast<uint64_t>(double(r.faults) * backend_.write_fault_overhead_ns()) + served.service_ns;
  const uint64_t harvested = now_ns();
  Bitmap& next_hot = hot_pages_.next();
  next_hot.clear();
  if (Predictor* predictor = hot_pages_.predictor()) {
    predictor->observe(written_, cost_model_.guest_progress(r.start_ns, r.fault_ns_estimate));
    predictor->predict(next_hot, cost_model_.page_costs());  // any page: a protected one can be unprotected now
  }
  TakeResult taken = ring_.take_open(hot_pages_.hot(), hot_pages_.changed(), next_hot);
  cow_.clear_faulted();
  const uint64_t copied = now_ns();
  open_epoch_cow(next_hot, dirty_, &r);
  r.rearm_ns = now_ns() - copied;
  r.harvest_ns = harvested - paused_at;
  r.copy_ns = copied - harvested;
  r.seq = taken.seq;
  r.pages_copied = taken.pages_copied;
  r.retired = taken.checkpoints_retired;
  r.dirty_pages = written_.count();
  return served.service_ns;
}

void Checkpointer::open_epoch_cow(const Bitmap& next_hot, const Bitmap& logged_written, EpochRecord* r) {
  const uint64_t protected_pages = cow_.protect_all_but(next_hot);
  if (r) r->pages_protected = protected_pages;
  rearm_ = logged_written;
  rearm_.and_not(next_hot);
  backend_.rearm(rearm_);
  hot_pages_.set_hot(next_hot);
}

// Stop-and-copy may compare a sample of the hot pages; copy-on-write
// compares them all: its hot pages were copied when the epoch opened.
void Checkpointer::find_hot_changed() {
  hot_pages_.find_changed(ring_, cost_model_, mode_ == Mode::StopAndCopy, copiers_.threads());
}

// What a pause leaves for later, done while the guest runs again (on
// another core, where there is one): the checksums of the pages it copied,
// and page faults on store frames the next pause will need. In slices: the
// copy-on-write fault handler, which needs the same lock, is never held up
// for long. Backing a fresh frame costs 12-20 us on a nested host, so after
// a large first checkpoint this is hundreds of milliseconds, which a
// rollback must not queue behind: it stops for a request, and the next call
// goes on where it stopped. A due epoch waits: a pause that copied into
// frames not yet backed would take far longer.
void Checkpointer::settle_store() {
  constexpr size_t kSlice = 256;  // about 0.1 ms of checksums
  // Warm frames kept ready beyond the next epoch's expected needs (16 MiB):
  // a pause that copies more (the first one, or one while the guest's
  // working set grows) would otherwise fault in fresh frames at 3-4x the
  // cost of a copy.
  constexpr uint64_t kSpareFrames = 4096;
  auto requested = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_ || !requests_.empty();
  };
  // True when done; the ring lock is let go between slices for the
  // copy-on-write fault handler.
  auto in_slices = [&](auto step) {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(ring_mu_);
        if (step() == 0) return true;
      }
      if (requested()) return false;
    }
  };
  if (in_slices([&] { return ring_.settle_checksums(kSlice); })) {
    in_slices([&] { return ring_.prefault(frames_next_epoch_ + kSpareFrames, kSlice); });
  }
}

void Checkpointer::publish() {
  std::unique_lock<std::mutex> ring_lock(ring_mu_);
  std::vector<CheckpointInfo> list = ring_.list();
  const uint64_t store_bytes = ring_.store_bytes(), shadow_pages = ring_.shadow_pages();
  const bool failed = !cow_.failure().empty() && enabled_in_ring_;
  const std::string failure = cow_.failure();
  ring_lock.unlock();
  if (failed) fail(failure);  // the fault handler ran out of room
  std::lock_guard<std::mutex> lock(mu_);
  published_ = failed ? std::vector<CheckpointInfo>{} : std::move(list);
  totals_.store_bytes = failed ? 0 : store_bytes;
  totals_.shadow_pages = failed ? 0 : shadow_pages;
}

// Checkpointing stops (the guest runs on unprotected) and says why.
void Checkpointer::fail(const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(ring_mu_);
    cow_.unprotect_all();
    cow_.clear_faulted();
    cow_.clear_failure();
    ring_.clear();
  }
  enabled_in_ring_ = false;
  backend_.stop_tracking();
  {
    std::lock_guard<std::mutex> lock(mu_);
    config_.enabled = false;
    totals_.last_error = message;
  }
  on_error_(message);
}

}  // namespace uckpt::core
