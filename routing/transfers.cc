// Blind and warm (consult) transfers: checking and planning them, placing the call in its new
// line, the transfer limit, and a consult's cancellation or end.
#include "absl/strings/str_cat.h"
#include "routing/quote.h"
#include "routing/router.h"

namespace acd::routing {

// Checks that `agent_id` may transfer `call_id` to `target` and says where the call goes.
absl::StatusOr<TransferPlan> Router::PlanTransfer(absl::string_view call_id,
                                                  absl::string_view agent_id,
                                                  const TransferTarget& target) const {
  absl::StatusOr<CallSlot> slot = CallFor(call_id);
  if (!slot.ok()) return slot.status();
  const Call& call = calls_[*slot];
  if (call.state != CallState::kConnected || agents_[call.agent].id != agent_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("call ", Quote(call_id), " is not connected to agent ", Quote(agent_id),
                     "; only the agent on the "
                     "call can transfer it"));
  }
  if (target.queue.empty() == target.agent_id.empty()) {
    return absl::InvalidArgumentError("transfer: name either a queue or an agent");
  }
  TransferPlan plan{.call = *slot, .queue = call.queue};
  if (!target.queue.empty()) {
    std::optional<QueueId> q = policy_->FindQueue(target.queue);
    if (!q)
      return absl::NotFoundError(absl::StrCat("queue ", Quote(target.queue), " does not exist"));
    if (policy_->queues[*q].channel != call.channel) {
      return absl::InvalidArgumentError(absl::StrCat(
          "queue ", Quote(target.queue), " serves ", ChannelName(policy_->queues[*q].channel),
          ", not this ", ChannelName(call.channel), " call"));
    }
    plan.queue = *q;
  } else {
    absl::StatusOr<AgentSlot> a = AgentFor(target.agent_id);
    if (!a.ok()) return a.status();
    if (*a == call.agent) return absl::InvalidArgumentError("transfer: the agent is already on the call");
    Call fresh = call;  // as the call will stand after the transfer: back to the queue's own skills
    fresh.next_step = 0;
    fresh.skill_floor = kMaxProficiency;
    if (!IsMember(agents_[*a], call.queue) || !Eligible(fresh, agents_[*a])) {
      return absl::FailedPreconditionError(
          absl::StrCat("agent ", Quote(target.agent_id), " does not serve queue ",
                       Quote(policy_->queues[call.queue].name),
                       " for this call; transfer to a queue they serve"));
    }
    plan.agent = *a;
  }
  const CompiledQueue& from = policy_->queues[call.queue];
  if (call.transfers >= from.max_transfers && from.fallback.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "call ", Quote(call_id), " has been transferred ", call.transfers, " times, queue ",
        Quote(from.name), "'s limit, and the queue has no fallback"));
  }
  return plan;
}

// Past its queue's transfer limit a call goes to the fallback, and its agent lets go of it.
void Router::SendTransferToFallback(CallSlot slot, AgentSlot from_agent) {
  Call& call = calls_[slot];
  const CompiledQueue& from = policy_->queues[call.queue];
  // The agent's part ends here; the queue learns no handle time from a call sent away.
  Note(CallFact::Kind::kTalkEnded, call, call.queue, now_ - call.connected_at);
  LetGoOfCall(slot);
  NoteLeaving(slot, CallFact::Outcome::kSentToFallback);  // with nobody on the line any more
  Emit({.kind = Decision::Kind::kSendToFallback, .call_id = call.id, .queue = from.name,
        .target = from.fallback, .reason = "too_many_transfers"});
  FreeCall(slot);
  Index(from_agent);
  TryServeAgent(from_agent);
}

// The transferred call starts a stint in the plan's queue, keeping its arrival: the queue's
// transfer boost, the sending agent kept off it for a while, and a hold for the target agent.
void Router::PlaceTransferred(const TransferPlan& plan, AgentSlot from_agent) {
  const CallSlot slot = plan.call;
  Call& call = calls_[slot];
  const CompiledQueue& queue = policy_->queues[plan.queue];
  call.transfers++;
  call.callback = false;  // the customer is on the line now
  call.announced_position = 0;
  call.queue = plan.queue;
  call.transfer_boost = queue.transfer_priority_boost;
  StartQueueStint(slot, now_);
  call.transferred_from = from_agent;
  call.transferred_from_login = agents_[from_agent].login_seq;
  call.avoid_until = now_ + queue.transfer_agent_wait;
  ScheduleCallTimer(slot, TimerKind::kAvoidEnd, call.avoid_until);
  call.held_for = kNoSlot;
  if (plan.agent != kNoSlot) {
    call.held_for = plan.agent;
    call.held_for_login = agents_[plan.agent].login_seq;
    call.held_until = now_ + queue.transfer_agent_wait;
    HoldForAgent(slot, plan.agent, call.held_until);
  } else if (call.preferred_slot == from_agent) {
    SetPreferredSlot(slot, kNoSlot);  // the preferred agent is the one who sent it on
    CancelCallTimer(slot, TimerKind::kPreferredAgentEnd);
  }
  InsertWaiting(slot);
}

// A transferred call now in line is offered if it can be, or sent on if the queue is full, or
// waits (greeted when the caller is in line alone, not when an agent stays on with them).
EnqueueResult Router::RouteTransferred(CallSlot slot, bool greet) {
  TryRouteCall(slot);
  Call& call = calls_[slot];
  const CompiledQueue& queue = policy_->queues[call.queue];
  if (call.state == CallState::kOffered) return {EnqueueResult::Disposition::kOffered, 0, ""};
  if (QueueFull(call.queue)) {
    SendToFallback(slot, queue.fallback, "queue_full");  // a transfer obeys the queue's limit
    return {EnqueueResult::Disposition::kSentToFallback, 0, queue.fallback};
  }
  const int position = Position(slot);
  const std::optional<absl::Duration> expected_wait = ExpectedWait(slot, position);
  if (greet) GreetInLine(slot, position, expected_wait);
  return {EnqueueResult::Disposition::kQueued, position, "", expected_wait};
}

// Past its queue's transfers.max_per_call a call goes to the queue's fallback instead of being
// transferred (the transferring agent lets go of it); nullopt while under the limit.
std::optional<EnqueueResult> Router::TransferOverLimit(CallSlot slot, AgentSlot from_agent) {
  const CompiledQueue& queue = policy_->queues[calls_[slot].queue];
  if (calls_[slot].transfers < queue.max_transfers) return std::nullopt;
  const std::string fallback = queue.fallback;
  SendTransferToFallback(slot, from_agent);
  return EnqueueResult{EnqueueResult::Disposition::kSentToFallback, 0, fallback};
}

absl::StatusOr<EnqueueResult> Router::Transfer(absl::string_view call_id,
                                               absl::string_view agent_id,
                                               const TransferTarget& target, absl::Time now) {
  Advance(now);
  absl::StatusOr<TransferPlan> plan = PlanTransfer(call_id, agent_id, target);
  if (!plan.ok()) return plan.status();
  Call& call = calls_[plan->call];
  const AgentSlot from_agent = call.agent;
  if (call.on_hold) EndHoldNow(plan->call);
  if (std::optional<EnqueueResult> over = TransferOverLimit(plan->call, from_agent)) return *over;
  // The agent's part of the call is over: its talk is handle time of the queue it served.
  stats_[call.queue].wait.HandleEnded(now_ - call.connected_at, now_);
  Note(CallFact::Kind::kTalkEnded, call, call.queue, now_ - call.connected_at);
  LetGoOfCall(plan->call);  // the agent is not indexed again until the call has found its next place
  PlaceTransferred(*plan, from_agent);
  EnqueueResult result = RouteTransferred(plan->call, /*greet=*/true);
  Index(from_agent);
  TryServeAgent(from_agent);
  return result;
}

absl::StatusOr<EnqueueResult> Router::StartConsult(absl::string_view call_id,
                                                   absl::string_view agent_id,
                                                   const TransferTarget& target, absl::Time now) {
  Advance(now);
  absl::StatusOr<TransferPlan> plan = PlanTransfer(call_id, agent_id, target);
  if (!plan.ok()) return plan.status();
  Call& call = calls_[plan->call];
  const AgentSlot from_agent = call.agent;
  const CompiledQueue& from = policy_->queues[call.queue];
  if (std::optional<EnqueueResult> over = TransferOverLimit(plan->call, from_agent)) return *over;
  // The agent stays on the line: still busy with the call, its load unchanged, until another
  // agent accepts (kTransferCompleted) or it takes the call back (CancelConsult).
  call.consulting_agent = from_agent;
  call.consult_from_queue = call.queue;
  call.consult_from_entered = call.entered_queue;
  call.consult_from_boost = call.transfer_boost;
  call.consult_wrap_up = from.wrap_up;
  PlaceTransferred(*plan, from_agent);
  return RouteTransferred(plan->call, /*greet=*/false);
}

absl::Status Router::CancelConsult(absl::string_view call_id, absl::string_view agent_id,
                                   absl::Time now) {
  Advance(now);
  absl::StatusOr<CallSlot> slot = CallFor(call_id);
  if (!slot.ok()) return slot.status();
  Call& call = calls_[*slot];
  if (call.consulting_agent == kNoSlot || agents_[call.consulting_agent].id != agent_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "call ", Quote(call_id), " is not in a consult transfer by agent ", Quote(agent_id)));
  }
  AgentSlot ringing = kNoSlot;
  if (call.state == CallState::kOffered) {
    // Not a miss: the agent being offered the call did nothing wrong.
    ringing = call.agent;
    Emit({.kind = Decision::Kind::kCancelOffer, .call_id = call.id, .agent_id = agents_[ringing].id,
          .queue = policy_->queues[call.queue].name, .reason = "consult_cancelled"});
    agents_[ringing].offered_call = kNoSlot;
  } else {
    EraseWaiting(*slot);
  }
  // Out of the line: its timers there go; a hold (with its reminders) goes on with the agent.
  for (TimerKind kind : {TimerKind::kOfferTimeout, TimerKind::kEscalationStep, TimerKind::kMaxWait,
                         TimerKind::kPreferredAgentEnd, TimerKind::kAvoidEnd,
                         TimerKind::kPromptDue}) {
    CancelCallTimer(*slot, kind);
  }
  // The transfer never happened: the call is as it was with the agent.
  call.queue = call.consult_from_queue;
  call.entered_queue = call.consult_from_entered;
  call.transfer_boost = call.consult_from_boost;
  call.transfers--;
  call.transferred_from = kNoSlot;
  call.held_for = kNoSlot;
  SetPreferredSlot(*slot, kNoSlot);
  call.state = CallState::kConnected;
  call.agent = call.consulting_agent;
  call.consulting_agent = kNoSlot;
  if (ringing != kNoSlot) ReleaseAgentFromOffer(ringing);
  return absl::OkStatus();
}

// The consulting agent lets go of the call (wrap-up as after the call it had) and is no longer on
// the line; returns it so the caller can index it once the call has found its place.
AgentSlot Router::LetGoOfConsult(CallSlot slot) {
  Call& call = calls_[slot];
  const AgentSlot agent = call.consulting_agent;
  // The first agent's part of the call is over: its talk is handle time of the queue it came from.
  stats_[call.consult_from_queue].wait.HandleEnded(now_ - call.connected_at, now_);
  Note(CallFact::Kind::kTalkEnded, call, call.consult_from_queue, now_ - call.connected_at, agent);
  ReleaseAgent(agent, slot, call.consult_wrap_up);
  call.consulting_agent = kNoSlot;
  return agent;
}

// The caller or the consulting agent hung up during a consult: the whole call ends, a ringing
// offer is withdrawn, and the consulting agent's talk counts as the call's handle time (in
// LetGoOfConsult).
void Router::EndConsultCall(CallSlot slot, const char* reason) {
  NoteLeaving(slot, CallFact::Outcome::kEnded);
  Call& call = calls_[slot];
  AgentSlot ringing = kNoSlot;
  if (call.state == CallState::kOffered) {
    ringing = call.agent;
    Emit({.kind = Decision::Kind::kCancelOffer, .call_id = call.id, .agent_id = agents_[ringing].id,
          .queue = policy_->queues[call.queue].name, .reason = reason});
  } else {
    EraseWaiting(slot);
  }
  const AgentSlot consulting = LetGoOfConsult(slot);
  FreeCall(slot);
  if (ringing != kNoSlot) ReleaseAgentFromOffer(ringing);
  Index(consulting);
  TryServeAgent(consulting);
}

}  // namespace acd::routing
