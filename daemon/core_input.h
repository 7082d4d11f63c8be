// A core input as the journal keeps it (acd.journal.v1.Input), and the one place such an input
// is handed to the core: the engine runs every live state-changing input through ApplyInput and
// recovery replays journaled ones through it, so what was done and what is replayed cannot differ.
//   JournalInput input = InputAt(now);
//   *input.mutable_enqueue_call() = request;
//   journal->Append(input.SerializeAsString());
//   absl::Status s = ApplyInput(core, input, {.enqueue_call = &response});
#ifndef ACD_DAEMON_CORE_INPUT_H_
#define ACD_DAEMON_CORE_INPUT_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "acd/journal/v1/journal.pb.h"
#include "acd/v1/acd.pb.h"
#include "acd/v1/policy.pb.h"
#include "daemon/core.h"
#include "metrics/call_observer.h"

namespace acd::daemon {

using JournalInput = acd::journal::v1::Input;

// An input stamped with `now`, which must be a whole number of microseconds (see WholeMicros).
JournalInput InputAt(absl::Time now);
absl::Time TimeOf(const JournalInput& input);
// `t` rounded down to a whole microsecond: the times the engine gives its core, so that the
// journal's microseconds give a replay the very same times.
inline absl::Time WholeMicros(absl::Time t) { return absl::FromUnixMicros(absl::ToUnixMicros(t)); }

acd::journal::v1::CoreSettings SettingsOf(const CoreOptions& options);
CoreOptions OptionsOf(const acd::journal::v1::CoreSettings& settings);

// Where an input's reply goes; null: nowhere (a replay).
struct InputReplies {
  acd::v1::EnqueueCallResponse* enqueue_call = nullptr;
  acd::v1::CallEventResponse* call_event = nullptr;
  acd::v1::AgentInfo* agent = nullptr;
  acd::v1::SetPolicyResponse* set_policy = nullptr;
  const PolicyRequestPrepared* set_policy_prepared = nullptr;  // made off the engine thread
  // A policy_text input's text compiled off the engine thread (Core::ApplyPolicyText).
  const absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>>* policy_text_compiled =
      nullptr;
  std::vector<acd::v1::Command>* reconnect = nullptr;  // what a reconnecting stream gets first
};

// A core made by a `created` input (the first record of a data dir).
absl::StatusOr<std::unique_ptr<Core>> CreateCore(const JournalInput& input,
                                                 metrics::CallObserver* observer);

// Hands `input` to `core` and returns what the core answered. An input that is not one the core
// takes after its creation (none set, or `created`) is an error, never a crash.
absl::Status ApplyInput(Core& core, const JournalInput& input, const InputReplies& replies = {});

// What the startup policy file (or the built-in policy) last gave, as `input` (answered
// `answered`) leaves it: a start that applied it, or a SIGHUP reload that took. `*file_policy` is
// what it gave before; `core` took `input` (a reload that took left its policy running there).
// Recovery and the engine both follow it this way, to tell at the next start whether the file
// changed while acdd was down.
void FollowFilePolicy(const JournalInput& input, const absl::Status& answered, const Core& core,
                      std::optional<acd::v1::Policy>* file_policy);

}  // namespace acd::daemon

#endif  // ACD_DAEMON_CORE_INPUT_H_
