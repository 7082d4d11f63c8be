// Callbacks: a waiting caller accepts one and keeps their place; a customer not reached is tried
// again later or given up on.
#include "absl/strings/str_cat.h"
#include "routing/quote.h"
#include "routing/request_limits.h"
#include "routing/router.h"

namespace acd::routing {

absl::Status Router::AcceptCallback(absl::string_view call_id, absl::Time now) {
  Advance(now);
  absl::StatusOr<CallSlot> slot = CallFor(call_id);
  if (!slot.ok()) return slot.status();
  Call& call = calls_[*slot];
  if (call.callback) return absl::OkStatus();  // a retry of the same answer
  if (call.state != CallState::kWaiting || call.consulting_agent != kNoSlot) {
    return absl::FailedPreconditionError(
        absl::StrCat("call ", Quote(call_id),
                     " is not waiting in line; only a waiting caller can take a callback"));
  }
  const std::string& queue = policy_->queues[call.queue].name;
  if (policy_->queues[call.queue].callbacks.offer_over <= absl::ZeroDuration()) {
    return absl::FailedPreconditionError(
        absl::StrCat("queue ", Quote(queue),
                     " offers no callbacks (callbacks.offer_when_ewt_over_seconds is 0)"));
  }
  // Same key, same place; no more prompts, and no wait limit sends a callback away.
  stats_[call.queue].wait.LeftLine(now_ - call.entered_queue, now_);  // patient until now
  call.callback = true;
  waiting_[call.queue].CallbackAccepted();
  CancelCallTimer(*slot, TimerKind::kPromptDue);
  CancelCallTimer(*slot, TimerKind::kMaxWait);
  stats_[call.queue].callbacks_accepted++;
  return absl::OkStatus();
}

absl::Status Router::CallbackNotReached(absl::string_view call_id, absl::string_view agent_id,
                                        absl::Time now) {
  Advance(now);
  absl::StatusOr<CallSlot> slot = CallFor(call_id);
  if (!slot.ok()) return slot.status();
  if (absl::Status s = CheckId(agent_id, "agent_id"); !s.ok()) return s;
  Call& call = calls_[*slot];
  if (!call.callback || call.state != CallState::kConnected || agents_[call.agent].id != agent_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "call ", Quote(call_id), " is not a callback connected to agent ", Quote(agent_id)));
  }
  if (call.on_hold) EndHoldNow(*slot);
  // Nobody answered: no talk to wrap up and nothing the agent missed.
  const AgentSlot agent = call.agent;
  ReleaseAgent(agent, *slot, absl::ZeroDuration());
  call.agent = kNoSlot;
  call.callback_attempts++;
  const CallbackRules& rules = policy_->queues[call.queue].callbacks;
  if (call.callback_attempts >= rules.max_attempts) {
    stats_[call.queue].callbacks_gave_up++;
    Emit({.kind = Decision::Kind::kCallbackGaveUp, .call_id = call.id,
          .queue = policy_->queues[call.queue].name, .attempt = call.callback_attempts});
    NoteLeaving(*slot, CallFact::Outcome::kCallbackGaveUp);
    FreeCall(*slot);
  } else {
    call.state = CallState::kCallbackPending;  // out of the line until the retry
    // The preferred agent has had its turn; the retry goes to whoever is free then (its window
    // timer was cancelled when the offer was accepted).
    SetPreferredSlot(*slot, kNoSlot);
    call.preferred_until = absl::InfinitePast();
    ScheduleCallTimer(*slot, TimerKind::kCallbackRetry, now_ + rules.retry_interval);
  }
  Index(agent);
  TryServeAgent(agent);
  return absl::OkStatus();
}

}  // namespace acd::routing
