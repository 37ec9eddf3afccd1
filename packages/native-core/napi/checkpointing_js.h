// The checkpoint core of one VM as JavaScript sees it: the epoch loop over
// a backend, its records delivered through a thread-safe function, and
// promises for the requests that wait on it. Each addon's VM object owns
// one and adds only what its hypervisor knows (defaults, options, states).
#pragma once

#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "uckpt/core/backend.h"
#include "uckpt/core/checkpointer.h"

namespace uckpt::addon {

// What a hypervisor decides when checkpointing starts.
struct CheckpointDefaults {
  uint64_t store_bytes;
  std::string predictor;  // used when the caller names none
  double dirty_log_fault_ns_calibrated = 0;  // the dirty-log fault measured on this host, the default faultNs (0: not measured)
};

class CheckpointingJs {
 public:
  // Builds the backend from the caller's options (addon-specific ones
  // included) once the generic ones were checked.
  using BackendFactory = std::function<std::unique_ptr<core::Backend>(const Napi::Object& options)>;
  // Runs on the JavaScript thread when a rollback settles; may add to `result`.
  using RollbackSettle = std::function<void(Napi::Env env, Napi::Object& result, bool revived)>;

  ~CheckpointingJs() { stop(); }

  bool exists() const { return checkpointer_ != nullptr; }
  // The backend the epoch loop runs over; null until enabled.
  core::Backend* backend() const { return backend_.get(); }
  // The epoch loop and its backend; throws a JavaScript error naming
  // `operation` when checkpointing was never enabled.
  core::Checkpointer& checkpointer(Napi::Env env, const char* operation);

  // enableCheckpointing({intervalMs, retention, mode, predictor, storeMiB,
  // copyThreads, faultNs, ...`fixed_options`}): the first call starts the
  // epoch loop; later ones re-enable it and apply what they may change.
  // Records and errors go to `on_event` as {type: "epoch" | "checkpoint-error"}.
  void enable(Napi::Env env, const Napi::Object& options, const CheckpointDefaults& defaults,
              const std::vector<std::string>& fixed_options, const Napi::Function& on_event,
              const BackendFactory& make_backend);
  // configureCheckpointing({intervalMs?, retention?, enabled?, predictor?, mode?}).
  void configure(Napi::Env env, const Napi::Value& patch, const char* operation);
  Napi::Promise checkpoint_now(Napi::Env env);
  // rollback(seq | "latest") resolves to {seq, pagesRestored,
  // checkpointsDropped, durationNs, revived: null} and what `settle` adds.
  Napi::Promise rollback(Napi::Env env, const Napi::Value& target, RollbackSettle settle);
  Napi::Value list(Napi::Env env);
  // Everything but how the backend tracks writes, which its addon adds.
  Napi::Object stats(Napi::Env env);
  void corrupt_for_test(Napi::Env env, const Napi::CallbackInfo& info);

  // Ends the epoch loop (it pauses the guest and reads its memory: it goes
  // before the guest does) and releases the backend.
  void stop();

 private:
  std::unique_ptr<core::Backend> backend_;
  // Shared with in-flight promise workers, which may outlive a stop().
  std::shared_ptr<core::Checkpointer> checkpointer_;
  Napi::ThreadSafeFunction epochs_;
  Napi::ThreadSafeFunction errors_;
  std::shared_ptr<std::atomic<uint64_t>> coalesced_ = std::make_shared<std::atomic<uint64_t>>(0);
};

}  // namespace uckpt::addon
