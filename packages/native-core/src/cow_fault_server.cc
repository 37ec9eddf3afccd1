#include "uckpt/core/cow_fault_server.h"

#include <optional>

#include "uckpt/core/clock.h"

namespace uckpt::core {

CowFaultServer::CowFaultServer(Backend& backend, CheckpointRing& ring, std::mutex& ring_mu,
                               std::function<void()> on_failure)
    : backend_(backend),
      ring_(ring),
      ring_mu_(ring_mu),
      on_failure_(std::move(on_failure)),
      all_(backend.page_count()),
      guarded_(backend.page_count()),
      faulted_(backend.page_count()),
      protect_(backend.page_count()) {
  all_.set_all();
}

void CowFaultServer::start() {
  backend_.start_write_protect();
  running_ = true;
  guarded_.clear();
  thread_ = std::thread([this] { serve(); });
}

void CowFaultServer::stop() {
  if (!running_) return;
  {
    std::lock_guard<std::mutex> lock(ring_mu_);
    guarded_.clear();
    backend_.stop_write_protect();
  }
  if (thread_.joinable()) thread_.join();
  running_ = false;
}

uint64_t CowFaultServer::protect_all_but(const Bitmap& writable) {
  // Pages left writable (hot: in the open log already) are unprotected.
  unprotect(writable);
  // Every other page that is writable now is protected again.
  protect_ = all_;
  protect_.and_not(guarded_);
  protect_.and_not(writable);
  const uint64_t protected_pages = protect_.count();
  backend_.write_protect(protect_);
  guarded_ |= protect_;
  return protected_pages;
}

void CowFaultServer::unprotect(const Bitmap& pages) {
  protect_ = pages;
  protect_ &= guarded_;
  if (protect_.count()) backend_.unprotect(protect_);
  guarded_.and_not(protect_);
}

void CowFaultServer::unprotect_all() {
  if (!running_) return;
  guarded_.clear();
  backend_.unprotect(all_);
}

CowFaultServer::Served CowFaultServer::take_served() {
  const Served served{faults_, service_ns_};
  faults_ = 0;
  service_ns_ = 0;
  return served;
}

// Saves the pre-image of a protected page at its first write, into the open
// log, then unprotects it and wakes the writer.
void CowFaultServer::serve() {
  while (std::optional<uint64_t> fault = backend_.next_write_fault()) {
    const uint64_t pfn = *fault;
    bool failed = false;
    {
      std::lock_guard<std::mutex> lock(ring_mu_);
      // Timed from here: waiting for the lock means a pause is on, and the
      // paused guest would not have run meanwhile anyway.
      const uint64_t start = now_ns();
      try {
        if (pfn < guarded_.size() && guarded_.test(pfn)) {
          try {
            ring_.save_pre_image(pfn);
            faulted_.set(pfn);
            guarded_.reset(pfn);
          } catch (const std::exception& e) {
            // No room for the pre-image: protection ends (the guest runs
            // on) and the epoch loop stops checkpointing with this error.
            failure_ = std::string("copy-on-write could not save a pre-image: ") + e.what();
            guarded_.clear();
            backend_.unprotect(all_);
            failed = true;
          }
        }
        // Also for a page no longer guarded (a fault reported late): the
        // writer only needs waking.
        backend_.unprotect_page(pfn);
      } catch (const std::exception& e) {
        failure_ = std::string("copy-on-write fault handling failed: ") + e.what();
        guarded_.clear();
        try {
          backend_.unprotect(all_);
        } catch (...) {
        }
        failed = true;
      }
      faults_++;
      service_ns_ += now_ns() - start;
    }
    if (failed) on_failure_();  // the loop sees failure() at its next epoch
  }
}

}  // namespace uckpt::core
