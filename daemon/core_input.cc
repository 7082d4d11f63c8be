#include "daemon/core_input.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "routing/compiled_policy.h"

namespace acd::daemon {

JournalInput InputAt(absl::Time now) {
  JournalInput input;
  input.set_time_unix_micros(absl::ToUnixMicros(now));
  return input;
}

absl::Time TimeOf(const JournalInput& input) {
  return absl::FromUnixMicros(input.time_unix_micros());
}

acd::journal::v1::CoreSettings SettingsOf(const CoreOptions& options) {
  acd::journal::v1::CoreSettings settings;
  settings.set_call_retention_micros(absl::ToInt64Microseconds(options.call_retention));
  settings.set_max_finished_calls(options.max_finished_calls);
  settings.set_max_outbox(options.max_outbox);
  return settings;
}

CoreOptions OptionsOf(const acd::journal::v1::CoreSettings& settings) {
  CoreOptions options;
  options.call_retention = absl::Microseconds(settings.call_retention_micros());
  options.max_finished_calls = settings.max_finished_calls();
  options.max_outbox = settings.max_outbox();
  return options;
}

absl::StatusOr<std::unique_ptr<Core>> CreateCore(const JournalInput& input,
                                                 metrics::CallObserver* observer) {
  if (!input.has_created()) {
    return absl::DataLossError("the journal's first record does not create the state");
  }
  const acd::journal::v1::Created& created = input.created();
  absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> policy =
      routing::CompilePolicy(created.policy());
  if (!policy.ok()) {
    return absl::DataLossError(
        absl::StrCat("the journal's first policy does not compile: ", policy.status().message()));
  }
  CoreOptions options = OptionsOf(created.settings());
  if (options.max_finished_calls < 1 || options.max_outbox < 1) {
    return absl::DataLossError(
        "the journal's settings keep no finished call or no unwritten command");
  }
  return std::make_unique<Core>(*std::move(policy), created.policy_source(), options, observer,
                                TimeOf(input));
}

absl::Status ApplyInput(Core& core, const JournalInput& input, const InputReplies& replies) {
  const absl::Time now = TimeOf(input);
  switch (input.input_case()) {
    case JournalInput::kEnqueueCall: {
      acd::v1::EnqueueCallResponse scratch;
      return core.EnqueueCall(input.enqueue_call(),
                              replies.enqueue_call ? replies.enqueue_call : &scratch, now);
    }
    case JournalInput::kCallEvent: {
      acd::v1::CallEventResponse scratch;
      return core.ReportCallEvent(input.call_event(),
                                  replies.call_event ? replies.call_event : &scratch, now);
    }
    case JournalInput::kLogin: {
      acd::v1::AgentInfo scratch;
      return core.Login(input.login(), replies.agent ? replies.agent : &scratch, now);
    }
    case JournalInput::kSetAgentState: {
      acd::v1::AgentInfo scratch;
      return core.SetAgentState(input.set_agent_state(), replies.agent ? replies.agent : &scratch,
                                now);
    }
    case JournalInput::kLogout:
      return core.Logout(input.logout(), now);
    case JournalInput::kSetPolicy: {
      return core.SetPolicy(input.set_policy(), replies.set_policy, now,
                            replies.set_policy_prepared);
    }
    case JournalInput::kPolicyText:
      return core.ApplyPolicyText(input.policy_text().yaml(), input.policy_text().source(), now,
                                  replies.policy_text_compiled);
    case JournalInput::kTimePassed:
      core.AdvanceTo(now);
      return absl::OkStatus();
    case JournalInput::kCommandWritten:
      core.CommandWritten(input.command_written().switch_id(),
                          input.command_written().sequence());
      return absl::OkStatus();
    case JournalInput::kSwitchReconnected: {
      std::vector<acd::v1::Command> commands =
          core.ReconnectSwitch(input.switch_reconnected().switch_id());
      if (replies.reconnect) *replies.reconnect = std::move(commands);
      return absl::OkStatus();
    }
    case JournalInput::kDrainBegun:
      core.BeginDrain();
      return absl::OkStatus();
    case JournalInput::kStarted: {
      const acd::journal::v1::Started& started = input.started();
      CoreOptions options = OptionsOf(started.settings());
      // Bounds acdd never writes (its flags are at least 1): the smallest it would.
      if (options.max_finished_calls < 1) options.max_finished_calls = 1;
      if (options.max_outbox < 1) options.max_outbox = 1;
      core.Restart(options);
      if (!started.apply_startup_policy()) return absl::OkStatus();
      return core.ApplyStartupPolicy(started.startup_policy(), started.startup_policy_source(),
                                     now);
    }
    case JournalInput::kCreated:
      return absl::DataLossError("a record creating the state in the middle of the journal");
    case JournalInput::INPUT_NOT_SET:
      break;
  }
  return absl::DataLossError(
      "a journal record with no input this acdd knows (written by a newer release?)");
}

void FollowFilePolicy(const JournalInput& input, const absl::Status& answered, const Core& core,
                      std::optional<acd::v1::Policy>* file_policy) {
  if (input.has_created()) *file_policy = input.created().policy();
  // A refused startup policy is tried again at the next start.
  if (input.has_started() && (!input.started().apply_startup_policy() || answered.ok())) {
    *file_policy = input.started().startup_policy();
  }
  // Not compiled again: a policy of 1 MiB takes most of a second.
  if (input.has_policy_text() && answered.ok()) *file_policy = core.router().policy().source;
}

}  // namespace acd::daemon
