#include "uckpt/core/checkpointer.h"

#include <time.h>

#include <chrono>
#include <stdexcept>

namespace uckpt::core {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t now_ns(clockid_t clock = CLOCK_MONOTONIC) {
  timespec ts;
  clock_gettime(clock, &ts);
  return uint64_t(ts.tv_sec) * 1000000000 + uint64_t(ts.tv_nsec);
}

// Undoes one backend pause on every way out of a scope.
class PauseGuard {
 public:
  explicit PauseGuard(Backend& backend) : backend_(backend) { backend_.pause(); }
  ~PauseGuard() { backend_.resume(); }
  PauseGuard(const PauseGuard&) = delete;
  PauseGuard& operator=(const PauseGuard&) = delete;

 private:
  Backend& backend_;
};

const CheckpointConfig& validated(const CheckpointConfig& config) {
  Checkpointer::validate(config);
  return config;
}

}  // namespace

void Checkpointer::validate(const CheckpointConfig& c) {
  if (c.interval_ms < 1 || c.interval_ms > 10000) {
    throw std::invalid_argument("intervalMs must be from 1 to 10000, got " + std::to_string(c.interval_ms));
  }
  if (c.retention < 1 || c.retention > 1024) {
    throw std::invalid_argument("retention must be from 1 to 1024, got " + std::to_string(c.retention));
  }
  if (c.store_bytes < (1u << 20)) throw std::invalid_argument("the store bound must be at least 1 MiB");
  if (c.copy_threads < 1 || c.copy_threads > 16) {
    throw std::invalid_argument("copyThreads must be from 1 to 16, got " + std::to_string(c.copy_threads));
  }
  if (c.predictor != "off") make_predictor(c.predictor, 1);  // throws for an unknown name
  if (!(c.fault_ns > 0)) throw std::invalid_argument("the fault cost must be positive");
}

Checkpointer::Checkpointer(Backend& backend, const CheckpointConfig& config, EpochSink on_epoch, ErrorSink on_error)
    : backend_(backend),
      on_epoch_(std::move(on_epoch)),
      on_error_(std::move(on_error)),
      copiers_(validated(config).copy_threads),
      ring_(backend, config.store_bytes, config.retention, copiers_),
      dirty_(backend.page_count()),
      carry_(backend.page_count()),
      hot_(backend.page_count()),
      writable_(backend.page_count()),
      hot_changed_(backend.page_count()),
      next_hot_(backend.page_count()),
      rearm_(backend.page_count()),
      config_(config) {
  totals_.store_bound = ring_.store_bound();
  costs_.fault_ns = config.fault_ns;
  if (config.predictor != "off" && !backend.can_leave_writable()) {
    throw std::invalid_argument("prediction needs dirty tracking that can leave pages writable "
                                "(on KVM the dirty bitmap with manual protection, not dirty rings)");
  }
  use_predictor(config.predictor);
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
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& p : requests_) {
    p->reply.set_exception(std::make_exception_ptr(std::runtime_error("checkpointing was stopped")));
  }
  requests_.clear();
}

void Checkpointer::configure(std::optional<uint32_t> interval_ms, std::optional<uint32_t> retention,
                             std::optional<bool> enabled, std::optional<std::string> predictor) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckpointConfig next = config_;
  if (interval_ms) next.interval_ms = *interval_ms;
  if (retention) next.retention = *retention;
  if (enabled) next.enabled = *enabled;
  if (predictor) next.predictor = *predictor;
  validate(next);
  if (next.predictor != "off" && !backend_.can_leave_writable()) {
    throw std::invalid_argument("prediction needs dirty tracking that can leave pages writable "
                                "(on KVM the dirty bitmap with manual protection, not dirty rings)");
  }
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
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto due = [&] { return config_.enabled && enabled_in_ring_ && Clock::now() >= next; };
    auto wanted = [&] {
      return stopping_ || !requests_.empty() || config_.enabled != enabled_in_ring_ ||
             config_.retention != ring_.retention() || due();
    };
    while (!wanted()) {
      if (config_.enabled && enabled_in_ring_) {
        wake_.wait_until(lock, next);
      } else {
        wake_.wait(lock);
      }
    }
    if (stopping_) return;
    const CheckpointConfig config = config_;
    auto requests = std::move(requests_);
    requests_.clear();
    lock.unlock();

    if (config.retention != ring_.retention()) ring_.set_retention(config.retention);
    if (config.predictor != predictor_name_) use_predictor(config.predictor);
    if (config.enabled != enabled_in_ring_) apply_enabled(config.enabled);
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
      next += std::chrono::milliseconds(config.interval_ms);
      if (next < Clock::now()) next = Clock::now() + std::chrono::milliseconds(config.interval_ms);
      epoch(false);
    } else if (!requests.empty()) {
      next = Clock::now() + std::chrono::milliseconds(config.interval_ms);
    }
    publish();
    lock.lock();
  }
}

void Checkpointer::apply_enabled(bool enabled) {
  if (!enabled) {
    ring_.clear();
    carry_.clear();
    enabled_in_ring_ = false;
    return;
  }
  if (predictor_) use_predictor(predictor_name_);  // forget what it learnt before
  try {
    PauseGuard paused(backend_);
    // Tracking starts now: what was written before is in the first checkpoint.
    dirty_.clear();
    backend_.harvest_dirty(dirty_);
    ring_.begin();
    hot_.clear();
    backend_.rearm(dirty_);  // every writable page has its bit set: this protects them all
    carry_.clear();
    enabled_in_ring_ = true;
  } catch (const std::exception& e) {
    fail(e.what());
  }
}

Checkpointer::Reply Checkpointer::serve(const Request& request) {
  if (!enabled_in_ring_ && !std::holds_alternative<Corrupt>(request)) {
    throw std::runtime_error("checkpointing is disabled");
  }
  if (std::holds_alternative<CheckpointNow>(request)) {
    if (backend_.guest_state() == Backend::GuestState::Ended) throw std::runtime_error("the guest has ended");
    epoch(true);
    if (!enabled_in_ring_) throw std::runtime_error("the checkpoint failed: " + totals().last_error);
    return ring_.latest_seq();
  }
  if (const auto* corrupt = std::get_if<Corrupt>(&request)) {
    ring_.corrupt_for_test(corrupt->seq, corrupt->pfn);
    return uint64_t{0};
  }
  const auto& rollback = std::get<Rollback>(request);
  const uint64_t start = now_ns();
  RollbackResult result;
  {
    PauseGuard paused(backend_);
    dirty_.clear();
    backend_.harvest_dirty(dirty_);
    dirty_ |= carry_;
    dirty_ |= hot_;  // hot pages may have been written: restore them too
    try {
      result = ring_.rollback(rollback.seq, dirty_);
    } catch (...) {
      carry_ = dirty_;  // refused: the pages written since stay to be harvested
      throw;
    }
    carry_.clear();
    rearm_after(hot_);  // hot pages stay writable
  }
  std::lock_guard<std::mutex> lock(mu_);
  totals_.rollbacks++;
  return RollbackOutcome{result, now_ns() - start};
}

void Checkpointer::use_predictor(const std::string& name) {
  predictor_ = name == "off" ? nullptr : make_predictor(name, backend_.page_count());
  predictor_name_ = name;
}

// Into dirty_: protected pages from the dirty log, hot pages by comparing
// them with the newest checkpoint, and anything carried over.
void Checkpointer::collect_written() {
  dirty_.clear();
  backend_.harvest_dirty(dirty_);
  // A page is writable exactly when its dirty bit is set (re-protecting
  // clears it): only these can be left writable into the next epoch.
  writable_ = dirty_;
  dirty_.and_not(hot_);
  hot_changed_.clear();
  if (hot_.count()) ring_.find_changed(hot_, hot_changed_);
  dirty_ |= hot_changed_;
  dirty_ |= carry_;
}

// Every page that is writable now and is not hot next gets protected again.
void Checkpointer::rearm_after(const Bitmap& next_hot) {
  rearm_ = dirty_;
  rearm_ |= hot_;
  rearm_.and_not(next_hot);
  backend_.rearm(rearm_);
  if (&next_hot != &hot_) hot_ = next_hot;
}

void Checkpointer::epoch(bool requested) {
  const Backend::GuestState state = backend_.guest_state();
  if (state == Backend::GuestState::Ended || (state == Backend::GuestState::Paused && !requested)) {
    std::lock_guard<std::mutex> lock(mu_);
    totals_.skipped_epochs++;
    return;
  }
  EpochRecord r{};
  r.start_ns = now_ns();
  r.wall_ms = now_ns(CLOCK_REALTIME) / 1000000;
  try {
    PauseGuard paused(backend_);
    const uint64_t paused_at = now_ns();
    collect_written();
    r.predicted = hot_.count();
    r.true_positives = hot_changed_.count();
    r.false_positives = r.predicted - r.true_positives;
    r.misses = dirty_.count() - r.true_positives;
    const uint64_t harvested = now_ns();
    TakeResult taken;
    try {
      taken = ring_.take(dirty_);
    } catch (...) {
      carry_ = dirty_;
      throw;
    }
    carry_.clear();
    const uint64_t copied = now_ns();
    next_hot_.clear();
    if (predictor_) {
      predictor_->observe(dirty_);
      predictor_->predict(next_hot_, costs_);
      // A protected page cannot be made writable ahead of its first write:
      // leaving it out of the re-protection would change nothing.
      next_hot_ &= writable_;
    }
    rearm_after(next_hot_);
    r.rearm_ns = now_ns() - copied;
    r.harvest_ns = harvested - paused_at;
    r.copy_ns = copied - harvested;
    r.seq = taken.seq;
    r.pages_copied = taken.pages_copied;
    r.retired = taken.checkpoints_retired;
    if (taken.pages_copied) {  // what a copy costs here, for the cost model
      costs_.copy_ns = 0.8 * costs_.copy_ns + 0.2 * double(r.copy_ns) / double(taken.pages_copied);
    }
  } catch (const std::exception& e) {
    fail(e.what());
    return;
  }
  r.pause_ns = now_ns() - r.start_ns;
  r.dirty_pages = r.pages_copied;
  r.fault_ns_estimate = static_cast<uint64_t>(double(r.misses) * costs_.fault_ns);
  r.store_bytes = ring_.store_bytes();
  r.retained = static_cast<uint32_t>(ring_.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    totals_.epochs++;
  }
  on_epoch_(r);
}

void Checkpointer::publish() {
  std::vector<CheckpointInfo> list = ring_.list();
  std::lock_guard<std::mutex> lock(mu_);
  published_ = std::move(list);
  totals_.store_bytes = ring_.store_bytes();
  totals_.shadow_pages = ring_.shadow_pages();
}

// Checkpointing stops (the guest runs on unprotected) and says why.
void Checkpointer::fail(const std::string& message) {
  ring_.clear();
  enabled_in_ring_ = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    config_.enabled = false;
    totals_.last_error = message;
  }
  on_error_(message);
}

}  // namespace uckpt::core
