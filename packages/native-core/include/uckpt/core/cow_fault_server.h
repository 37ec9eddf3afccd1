// Copy-on-write's half that runs while the guest does: a thread that takes
// each write to a write-protected page, saves the page's pre-image into the
// ring's open undo log, unprotects the page and so wakes the writer; and
// the protection state it shares with the epoch loop (which pages are
// protected, which were saved by a fault this epoch, how many faults and
// how long they took).
//
// Apart from the epoch loop because it is a second thread with a different
// rhythm: the loop pauses the guest every interval, this serves one fault
// at a time while it runs, and neither may wait for the other across a
// pause. What they share is guarded by the ring's lock, which the loop owns
// and takes only after a pause has begun, never across one: a vCPU may wait
// in a fault for this thread, which waits for that lock.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "backend.h"
#include "bitmap.h"
#include "checkpoint_ring.h"

namespace uckpt::core {

class CowFaultServer {
 public:
  // `ring_mu` guards `ring` and this object's state; `on_failure` runs on
  // the handler thread, without that lock, when the handler could not save
  // a pre-image (failure() says why), to wake the epoch loop.
  CowFaultServer(Backend& backend, CheckpointRing& ring, std::mutex& ring_mu, std::function<void()> on_failure);
  ~CowFaultServer() { stop(); }
  CowFaultServer(const CowFaultServer&) = delete;
  CowFaultServer& operator=(const CowFaultServer&) = delete;

  // Starts the backend's write protection, nothing protected yet, and the
  // handler thread; throws what the backend throws. Without the lock.
  void start();
  // Unprotects everything, wakes every blocked writer and ends the handler
  // thread; nothing when not started. Takes the lock.
  void stop();
  bool running() const { return running_; }

  // The rest with the lock held.
  //
  // Opens an epoch: unprotects the pages of `writable` that are protected
  // and protects every other page that is not yet. Returns how many pages
  // it protected. Paused only.
  uint64_t protect_all_but(const Bitmap& writable);
  // Unprotects those of `pages` that are protected, ahead of the core's own
  // writes to them (a rollback), which must not fault.
  void unprotect(const Bitmap& pages);
  // Checkpointing stops: every page is unprotected and its writers woken.
  void unprotect_all();

  // Pages whose pre-image a fault saved this epoch.
  const Bitmap& faulted() const { return faulted_; }
  void clear_faulted() { faulted_.clear(); }
  // Why the handler could not save a pre-image (it then unprotected
  // everything: the guest runs on unprotected); empty otherwise.
  const std::string& failure() const { return failure_; }
  void clear_failure() { failure_.clear(); }
  // The faults served since the last call, and the handler's time on them
  // (from taking the lock to waking the writer).
  struct Served {
    uint64_t faults;
    uint64_t service_ns;
  };
  Served take_served();

 private:
  void serve();  // the handler thread

  Backend& backend_;
  CheckpointRing& ring_;
  std::mutex& ring_mu_;
  std::function<void()> on_failure_;
  bool running_ = false;  // read and written by the thread that starts and stops it, never the handler
  std::thread thread_;
  // Guarded by ring_mu_.
  Bitmap all_;       // every page
  Bitmap guarded_;   // write-protected: unwritten since the newest checkpoint
  Bitmap faulted_;   // pre-image saved by a fault this epoch
  Bitmap protect_;   // scratch
  std::string failure_;
  uint64_t faults_ = 0, service_ns_ = 0;
};

}  // namespace uckpt::core
