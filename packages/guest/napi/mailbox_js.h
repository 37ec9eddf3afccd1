// The mailbox as JavaScript sees it, for every addon that runs the images.
#pragma once

#include <napi.h>

#include "uckpt_mailbox_view.h"

namespace uckpt::addon {

inline Napi::Object mailbox_to_js(Napi::Env env, const MailboxView& mb) {
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object o = Napi::Object::New(env);
  o.Set("status", num(mb.status));
  o.Set("progress", num(mb.progress));
  o.Set("progressTotal", num(mb.progress_total));
  o.Set("runsDone", num(mb.runs_done));
  o.Set("result", Napi::BigInt::New(env, mb.result));
  o.Set("error", mb.error);
  o.Set("selfChecks", num(mb.self_checks));
  o.Set("arenaBase", num(mb.arena_base));
  o.Set("arenaBytes", num(mb.arena_bytes));
  return o;
}

}  // namespace uckpt::addon
