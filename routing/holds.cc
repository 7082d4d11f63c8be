// Holds of a connected call: start and end, reminders to the caller and the agent, and overrun
// flags.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "routing/quote.h"
#include "routing/router.h"

namespace acd::routing {

absl::Status Router::StartHold(absl::string_view call_id, absl::Duration expected, absl::Time now) {
  Advance(now);
  absl::StatusOr<CallSlot> slot = CallFor(call_id);
  if (!slot.ok()) return slot.status();
  if (expected < absl::ZeroDuration() || expected == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError("expected hold duration must be zero (unknown) or positive");
  }
  Call& call = calls_[*slot];
  // During a consult the caller is still with the first agent, who may put them on hold.
  if (call.state != CallState::kConnected && call.consulting_agent == kNoSlot) {
    return absl::FailedPreconditionError(
        absl::StrCat("call ", Quote(call_id),
                     " is not connected to an agent; only a connected call can be held"));
  }
  if (call.on_hold) {
    return absl::FailedPreconditionError(
        absl::StrCat("call ", Quote(call_id), " is already on hold"));
  }
  call.on_hold = true;
  call.hold_started = now_;
  call.hold_reminded = now_;
  call.hold_expected = expected;
  call.hold_expected_flagged = false;
  call.hold_max_flagged = false;
  call.holds++;
  ScheduleHoldTimers(*slot);
  return absl::OkStatus();
}

absl::Status Router::EndHold(absl::string_view call_id, absl::Time now) {
  Advance(now);
  absl::StatusOr<CallSlot> slot = CallFor(call_id);
  if (!slot.ok()) return slot.status();
  if (!calls_[*slot].on_hold) {
    return absl::FailedPreconditionError(absl::StrCat("call ", Quote(call_id), " is not on hold"));
  }
  EndHoldNow(*slot);
  return absl::OkStatus();
}

// The agent with the held caller: the one connected, or the one consulting.
AgentSlot Router::HoldingAgent(const Call& call) const {
  return call.consulting_agent != kNoSlot ? call.consulting_agent : call.agent;
}

// The next reminder an interval after the last, and the next overrun not flagged yet, under the
// queue's current rules.
void Router::ScheduleHoldTimers(CallSlot slot) {
  const Call& call = calls_[slot];
  const HoldRules& rules = policy_->queues[call.queue].holds;
  ScheduleCallTimer(slot, TimerKind::kHoldReminder,
                    std::max(now_, call.hold_reminded + rules.reminder_interval));
  absl::Time overrun = absl::InfiniteFuture();
  if (call.hold_expected > absl::ZeroDuration() && !call.hold_expected_flagged) {
    overrun = call.hold_started + call.hold_expected;
  }
  if (!call.hold_max_flagged) overrun = std::min(overrun, call.hold_started + rules.max);
  if (overrun == absl::InfiniteFuture()) {
    CancelCallTimer(slot, TimerKind::kHoldOverrun);
  } else {
    ScheduleCallTimer(slot, TimerKind::kHoldOverrun, std::max(now_, overrun));
  }
}

// "Thanks for holding" to the caller, and a nudge to the agent who has them on hold.
void Router::RemindHold(CallSlot slot) {
  Call& call = calls_[slot];
  const absl::Duration held = now_ - call.hold_started;
  const std::string& queue = policy_->queues[call.queue].name;
  EmitPrompt(slot, {.kind = Decision::Kind::kPlayPrompt, .call_id = call.id, .queue = queue,
                    .prompt = Decision::PromptKind::kHoldReminder, .held = held});
  Emit({.kind = Decision::Kind::kHoldReminder, .call_id = call.id,
        .agent_id = agents_[HoldingAgent(call)].id, .queue = queue, .held = held,
        .hold_expected = call.hold_expected});
  call.hold_reminded = now_;
  ScheduleHoldTimers(slot);
}

// Flags, once each, the hold passing what the caller was told and the queue's maximum.
void Router::FlagHoldOverruns(CallSlot slot) {
  Call& call = calls_[slot];
  const absl::Duration held = now_ - call.hold_started;
  const absl::Duration max = policy_->queues[call.queue].holds.max;
  auto flag = [&](const char* reason) {
    stats_[call.queue].hold_overruns++;
    Emit({.kind = Decision::Kind::kHoldOverrun, .call_id = call.id,
          .agent_id = agents_[HoldingAgent(call)].id, .queue = policy_->queues[call.queue].name,
          .reason = reason, .held = held});
  };
  if (!call.hold_expected_flagged && call.hold_expected > absl::ZeroDuration() &&
      held >= call.hold_expected) {
    call.hold_expected_flagged = true;
    flag("expected");
  }
  if (!call.hold_max_flagged && held >= max) {
    call.hold_max_flagged = true;
    flag("max");
  }
  ScheduleHoldTimers(slot);
}

void Router::EndHoldNow(CallSlot slot) {
  Call& call = calls_[slot];
  // The hold is the holding agent's: during a consult, the first agent's, in its queue.
  const bool consulting = call.consulting_agent != kNoSlot;
  const QueueId queue = consulting ? call.consult_from_queue : call.queue;
  Note(CallFact::Kind::kHoldEnded, call, queue, now_ - call.hold_started,
       consulting ? call.consulting_agent : call.agent);
  call.hold_time += now_ - call.hold_started;
  call.on_hold = false;
  CancelCallTimer(slot, TimerKind::kHoldReminder);
  CancelCallTimer(slot, TimerKind::kHoldOverrun);
}

}  // namespace acd::routing
