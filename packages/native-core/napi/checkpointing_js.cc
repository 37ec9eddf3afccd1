#include "checkpointing_js.h"

#include "js_args.h"
#include "uckpt/core/clock.h"

namespace uckpt::addon {
namespace {

constexpr size_t kEpochQueue = 64;  // records waiting for JavaScript; more are coalesced
constexpr size_t kErrorQueue = 16;

Napi::Number num(Napi::Env env, uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

struct EpochMessage {
  core::EpochRecord record;
  uint64_t coalesced;  // records dropped before this one because JavaScript was behind
};

void deliver_epoch(Napi::Env env, Napi::Function callback, EpochMessage* message) {
  std::unique_ptr<EpochMessage> owned(message);
  if (!env || !callback) return;
  deliver_safely([&] {
    const core::EpochRecord& r = message->record;
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", "epoch");
    o.Set("seq", num(env, r.seq));
    o.Set("time", num(env, r.wall_ms));
    o.Set("lateNs", num(env, r.late_ns));
    o.Set("dirtyPages", num(env, r.dirty_pages));
    o.Set("pagesCopied", num(env, r.pages_copied));
    o.Set("pauseNs", num(env, r.pause_ns));
    o.Set("harvestNs", num(env, r.harvest_ns));
    o.Set("copyNs", num(env, r.copy_ns));
    o.Set("rearmNs", num(env, r.rearm_ns));
    o.Set("storeBytes", num(env, r.store_bytes));
    o.Set("retained", num(env, r.retained));
    o.Set("retired", num(env, r.retired));
    o.Set("predicted", num(env, r.predicted));
    o.Set("truePositives", num(env, r.true_positives));
    o.Set("hotCompared", num(env, r.hot_compared));
    o.Set("falsePositives", num(env, r.false_positives));
    o.Set("misses", num(env, r.misses));
    o.Set("faultNsEstimate", num(env, r.fault_ns_estimate));
    o.Set("leastTrackingNs", num(env, r.least_tracking_ns));
    o.Set("faults", num(env, r.faults));
    o.Set("pagesProtected", num(env, r.pages_protected));
    o.Set("pagesPrecopied", num(env, r.pages_precopied));
    o.Set("precopyNs", num(env, r.precopy_ns));
    const uint64_t written = r.true_positives + r.misses;
    o.Set("precision", r.predicted ? Napi::Number::New(env, double(r.true_positives) / double(r.predicted)) : env.Null());
    // Recall of a predictor that predicted nothing is no measure of it.
    o.Set("recall", r.predicted && written ? Napi::Number::New(env, double(r.true_positives) / double(written)) : env.Null());
    o.Set("mode", core::to_string(r.mode));
    o.Set("fallbackReason", r.fallback_reason.empty() ? env.Null() : Napi::String::New(env, r.fallback_reason));
    o.Set("coalesced", num(env, message->coalesced));
    callback.Call({o});
  });
}

void deliver_checkpoint_error(Napi::Env env, Napi::Function callback, std::string* message) {
  std::unique_ptr<std::string> owned(message);
  if (!env || !callback) return;
  deliver_safely([&] {
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", "checkpoint-error");
    o.Set("message", *message);
    callback.Call({o});
  });
}

// A promise settled by work done off the JavaScript thread.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<std::function<Napi::Value(Napi::Env)>()>;

  PromiseWorker(Napi::Env env, Work work)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      settle_ = work_();
    } catch (const core::RollbackRefused& e) {
      code_ = "UCKPT_ROLLBACK_REFUSED";
      SetError(std::string("rollback: ") + e.what());
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(settle_(Env())); }
  void OnError(const Napi::Error& error) override {
    if (!code_.empty()) error.Set("code", Napi::String::New(Env(), code_));
    deferred_.Reject(error.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  std::function<Napi::Value(Napi::Env)> settle_;
  std::string code_;
};

std::optional<uint32_t> optional_field(const Napi::Object& o, const char* key, const char* operation, uint64_t max) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return std::nullopt;
  uint64_t v = uint_field(o, key, 0, operation);
  if (v > max) throw Napi::RangeError::New(o.Env(), std::string(operation) + ": " + key + " is out of range");
  return static_cast<uint32_t>(v);
}

std::optional<core::Mode> mode_field(const Napi::Object& o, const char* operation) {
  if (!o.Has("mode") || o.Get("mode").IsUndefined()) return std::nullopt;
  Napi::Value mode = o.Get("mode");
  try {
    if (!mode.IsString()) throw std::invalid_argument("mode must be \"stop-and-copy\" or \"cow\"");
    return core::parse_mode(mode.As<Napi::String>().Utf8Value());
  } catch (const std::invalid_argument& e) {
    throw Napi::TypeError::New(o.Env(), std::string(operation) + ": " + e.what());
  }
}

std::optional<std::string> predictor_field(const Napi::Object& o, const char* operation) {
  if (!o.Has("predictor") || o.Get("predictor").IsUndefined()) return std::nullopt;
  Napi::Value v = o.Get("predictor");
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "cost" : "off";  // true: the default predictor
  if (!v.IsString()) {
    throw Napi::TypeError::New(o.Env(), std::string(operation) +
                                            ": predictor must be \"off\", \"history\", \"frontier\", \"cost\" or a boolean");
  }
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace

core::Checkpointer& CheckpointingJs::checkpointer(Napi::Env env, const char* operation) {
  if (!checkpointer_) throw Napi::Error::New(env, std::string(operation) + ": checkpointing was never enabled");
  return *checkpointer_;
}

void CheckpointingJs::enable(Napi::Env env, const Napi::Object& o, const CheckpointDefaults& defaults,
                             const std::vector<std::string>& fixed_options, const Napi::Function& on_event,
                             const BackendFactory& make_backend) {
  const char* op = "enableCheckpointing";
  auto mode = mode_field(o, op);
  auto interval = optional_field(o, "intervalMs", op, UINT32_MAX);
  auto retention = optional_field(o, "retention", op, UINT32_MAX);
  auto predictor = predictor_field(o, op);
  auto precopy = optional_bool_field(o, "precopy", op);
  if (checkpointer_) {
    std::vector<std::string> fixed{"storeMiB", "copyThreads", "faultNs"};
    fixed.insert(fixed.end(), fixed_options.begin(), fixed_options.end());
    for (const std::string& key : fixed) {
      if (!o.Has(key)) continue;
      std::string names;
      for (size_t i = 0; i < fixed.size(); i++) names += (i == 0 ? "" : i + 1 == fixed.size() ? " and " : ", ") + fixed[i];
      throw Napi::Error::New(env, std::string(op) + ": " + names + " are fixed once checkpointing exists");
    }
    guarded(env, [&] {
      checkpointer_->configure({.interval_ms = interval,
                                .retention = retention,
                                .enabled = true,
                                .predictor = predictor,
                                .mode = mode,
                                .precopy = precopy});
      return env.Undefined();
    });
    return;
  }
  core::CheckpointConfig config;
  config.interval_ms = interval.value_or(config.interval_ms);
  config.retention = retention.value_or(config.retention);
  config.store_bytes = uint_field(o, "storeMiB", defaults.store_bytes >> 20, op) << 20;
  config.copy_threads = static_cast<unsigned>(uint_field(o, "copyThreads", config.copy_threads, op));
  config.precopy = precopy.value_or(config.precopy);
  config.predictor = predictor.value_or(defaults.predictor);
  // faultNs as given, else as measured on this host, else the engine's default.
  config.dirty_log_fault_ns_calibrated = defaults.dirty_log_fault_ns_calibrated;
  if (o.Has("faultNs") && !o.Get("faultNs").IsUndefined()) {
    config.dirty_log_fault_ns = static_cast<double>(uint_field(o, "faultNs", 0, op));
  } else if (config.dirty_log_fault_ns_calibrated > 0) {
    config.dirty_log_fault_ns = config.dirty_log_fault_ns_calibrated;
  }
  config.mode = mode.value_or(core::Mode::StopAndCopy);

  guarded(env, [&] {
    core::validate(config);
    epochs_ = Napi::ThreadSafeFunction::New(env, on_event, "uckpt-epochs", kEpochQueue, 1);
    epochs_.Unref(env);
    errors_ = Napi::ThreadSafeFunction::New(env, on_event, "uckpt-checkpoint-errors", kErrorQueue, 1);
    errors_.Unref(env);
    Napi::ThreadSafeFunction epochs = epochs_, errors = errors_;
    auto coalesced = coalesced_;
    auto on_epoch = [epochs, coalesced](const core::EpochRecord& r) mutable {
      auto* message = new EpochMessage{r, coalesced->exchange(0)};
      if (epochs.NonBlockingCall(message, deliver_epoch) != napi_ok) {
        coalesced->fetch_add(1 + message->coalesced);
        delete message;
      }
    };
    auto on_error = [errors](const std::string& error) mutable {
      auto* message = new std::string(error);
      if (errors.NonBlockingCall(message, deliver_checkpoint_error) != napi_ok) delete message;
    };
    backend_ = make_backend(o);
    checkpointer_ = std::make_shared<core::Checkpointer>(*backend_, config, on_epoch, on_error);
    return env.Undefined();
  });
}

void CheckpointingJs::configure(Napi::Env env, const Napi::Value& value, const char* op) {
  if (!value.IsObject()) throw Napi::TypeError::New(env, std::string(op) + ": expected an object");
  Napi::Object o = value.As<Napi::Object>();
  const core::Checkpointer::Change change{
      .interval_ms = optional_field(o, "intervalMs", op, UINT32_MAX),
      .retention = optional_field(o, "retention", op, UINT32_MAX),
      .enabled = optional_bool_field(o, "enabled", op),
      .predictor = predictor_field(o, op),
      .mode = mode_field(o, op),
      .precopy = optional_bool_field(o, "precopy", op),
  };
  core::Checkpointer& cp = checkpointer(env, op);
  guarded(env, [&] {
    cp.configure(change);
    return env.Undefined();
  });
}

Napi::Promise CheckpointingJs::checkpoint_now(Napi::Env env) {
  std::shared_ptr<core::Checkpointer> cp = (checkpointer(env, "checkpointNow"), checkpointer_);
  auto* worker = new PromiseWorker(env, [cp] {
    uint64_t seq = cp->checkpoint_now();
    return std::function<Napi::Value(Napi::Env)>([seq](Napi::Env env) { return num(env, seq); });
  });
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Promise CheckpointingJs::rollback(Napi::Env env, const Napi::Value& target_value, RollbackSettle settle) {
  std::shared_ptr<core::Checkpointer> cp = (checkpointer(env, "rollback"), checkpointer_);
  std::optional<uint64_t> target;
  if (target_value.IsString() && target_value.As<Napi::String>().Utf8Value() == "latest") {
    target = std::nullopt;
  } else if (target_value.IsNumber() || target_value.IsBigInt()) {
    target = uint_value(env, target_value, "rollback", "seq", UINT64_MAX);
  } else {
    throw Napi::TypeError::New(env, "rollback: the target must be a checkpoint seq or \"latest\"");
  }
  auto* worker = new PromiseWorker(env, [cp, target, settle] {
    core::RollbackOutcome out = cp->rollback(target);
    return std::function<Napi::Value(Napi::Env)>([out, settle](Napi::Env env) -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      o.Set("seq", num(env, out.result.seq));
      o.Set("pagesRestored", num(env, out.result.pages_restored));
      o.Set("checkpointsDropped", num(env, out.result.checkpoints_dropped));
      o.Set("durationNs", num(env, out.duration_ns));
      o.Set("revived", env.Null());
      if (settle) settle(env, o, out.revived);
      return o;
    });
  });
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value CheckpointingJs::list(Napi::Env env) {
  std::vector<core::CheckpointInfo> list = checkpointer(env, "listCheckpoints").list();
  uint64_t now = core::now_ns();
  Napi::Array out = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); i++) {
    const core::CheckpointInfo& c = list[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("seq", num(env, c.seq));
    o.Set("time", num(env, c.wall_ms));
    o.Set("ageMs", Napi::Number::New(env, static_cast<double>(now - c.monotonic_ns) / 1e6));
    o.Set("pages", num(env, c.pages));
    o.Set("bytes", num(env, c.bytes));
    o.Set("verified", Napi::Boolean::New(env, !c.corrupt));
    out.Set(i, o);
  }
  return out;
}

Napi::Object CheckpointingJs::stats(Napi::Env env) {
  core::Checkpointer& cp = checkpointer(env, "checkpointStats");
  core::Totals t = cp.totals();
  core::CheckpointConfig c = cp.config();
  Napi::Object o = Napi::Object::New(env);
  o.Set("enabled", c.enabled);
  o.Set("mode", core::to_string(t.mode));
  o.Set("requestedMode", core::to_string(c.mode));
  o.Set("fallbackReason", t.fallback_reason.empty() ? env.Null() : Napi::String::New(env, t.fallback_reason));
  o.Set("intervalMs", num(env, c.interval_ms));
  o.Set("retention", num(env, c.retention));
  o.Set("copyThreads", num(env, c.copy_threads));
  o.Set("precopy", c.precopy && backend_->can_harvest_running());  // in effect
  o.Set("predictor", c.predictor);
  o.Set("epochs", num(env, t.epochs));
  o.Set("skippedEpochs", num(env, t.skipped_epochs));
  o.Set("deferredEpochs", num(env, t.deferred_epochs));
  o.Set("rollbacks", num(env, t.rollbacks));
  o.Set("storeBytes", num(env, t.store_bytes));
  o.Set("storeBoundBytes", num(env, t.store_bound));
  o.Set("shadowPages", num(env, t.shadow_pages));
  o.Set("coalescedEpochs", num(env, coalesced_->load()));
  o.Set("faults", num(env, t.faults));
  Napi::Object costs = Napi::Object::New(env);
  costs.Set("copyNs", Napi::Number::New(env, t.costs.copy_ns));
  costs.Set("copyNsCalibrated", Napi::Number::New(env, t.costs.copy_ns_calibrated));
  costs.Set("dirtyLogFaultNs", Napi::Number::New(env, t.costs.dirty_log_fault_ns));
  costs.Set("dirtyLogFaultNsCalibrated", Napi::Number::New(env, t.costs.dirty_log_fault_ns_calibrated));
  costs.Set("cowFaultNs", Napi::Number::New(env, t.costs.cow_fault_ns));
  costs.Set("cowFaultNsCalibrated", Napi::Number::New(env, t.costs.cow_fault_ns_calibrated));
  o.Set("costs", costs);
  o.Set("lastError", t.last_error.empty() ? env.Null() : Napi::String::New(env, t.last_error));
  return o;
}

// testCorruptStoredPage(seq, pfn): flips a bit in a stored copy, for tests of integrity checking.
void CheckpointingJs::corrupt_for_test(Napi::Env env, const Napi::CallbackInfo& info) {
  uint64_t seq = uint_arg(info, 0, "testCorruptStoredPage", "seq", UINT64_MAX);
  uint64_t pfn = uint_arg(info, 1, "testCorruptStoredPage", "pfn", UINT64_MAX);
  core::Checkpointer& cp = checkpointer(env, "testCorruptStoredPage");
  guarded(env, [&] {
    cp.corrupt_for_test(seq, pfn);
    return env.Undefined();
  });
}

void CheckpointingJs::stop() {
  if (!checkpointer_) return;
  checkpointer_->stop();
  checkpointer_.reset();
  backend_.reset();
  epochs_.Release();
  errors_.Release();
}

}  // namespace uckpt::addon
