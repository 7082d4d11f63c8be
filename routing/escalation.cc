// A call's stint in a queue: escalation steps and max wait applied in time order, the preferred
// agent's window, and the fallback.
#include "routing/router.h"

#include <algorithm>

#include "routing/router_internal.h"

namespace acd::routing {

using internal::Crash;

// A call starts (or, after overflow or a reload, restarts) its time in a queue at `entered`:
// escalation steps, max wait and the preferred-agent window count from then. Deadlines already
// past fire at the next timer run.
void Router::StartQueueStint(CallSlot slot, absl::Time entered) {
  Call& call = calls_[slot];
  const CompiledQueue& queue = policy_->queues[call.queue];
  call.entered_queue = entered;
  call.next_step = 0;
  call.skill_floor = kMaxProficiency;
  call.raised_priority = 0;
  ScheduleNextStep(slot);
  CancelCallTimer(slot, TimerKind::kMaxWait);
  if (queue.max_wait != absl::InfiniteDuration() && !call.callback) {  // a callback has no limit
    ScheduleCallTimer(slot, TimerKind::kMaxWait, entered + queue.max_wait);
  }
  CancelCallTimer(slot, TimerKind::kPreferredAgentEnd);
  SetPreferredSlot(slot, kNoSlot);
  call.preferred_until = absl::InfinitePast();
  if (!call.preferred_agent.empty() && entered + queue.preferred_agent_timeout > now_) {
    auto it = agent_ids_.find(call.preferred_agent);
    // Not for the agent the call is being transferred away from (a consult or a fresh transfer):
    // it would hold the call for someone who cannot or should not take it.
    if (it != agent_ids_.end() && IsMember(agents_[it->second], call.queue) &&
        Eligible(call, agents_[it->second]) && !Avoids(call, it->second)) {
      HoldForAgent(slot, it->second, entered + queue.preferred_agent_timeout);
    }
  }
}

// Only `agent` may take the call until `until` (a preferred agent, or a transfer to an agent).
void Router::HoldForAgent(CallSlot slot, AgentSlot agent, absl::Time until) {
  Call& call = calls_[slot];
  SetPreferredSlot(slot, agent);
  call.preferred_login = agents_[agent].login_seq;
  call.preferred_until = until;
  ScheduleCallTimer(slot, TimerKind::kPreferredAgentEnd, until);
}

void Router::SetPreferredSlot(CallSlot slot, AgentSlot agent) {
  Call& call = calls_[slot];
  if (call.preferred_slot == agent) return;
  if (call.preferred_slot != kNoSlot) held_calls_.erase({call.preferred_slot, slot});
  call.preferred_slot = agent;
  if (agent != kNoSlot) held_calls_.insert({agent, slot});
}

void Router::ScheduleNextStep(CallSlot slot) {
  const Call& call = calls_[slot];
  const CompiledQueue& queue = policy_->queues[call.queue];
  CancelCallTimer(slot, TimerKind::kEscalationStep);
  if (call.next_step < static_cast<int>(queue.escalation.size())) {
    ScheduleCallTimer(slot, TimerKind::kEscalationStep,
                      call.entered_queue + queue.escalation[call.next_step].after);
  }
}

// Catches a waiting call up on everything due by now, in time order: escalation steps and the
// queue's max wait (steps that fell due while the call was ringing apply when the offer fails).
// Then reschedules, and routes the call if a step widened who may take it.
void Router::ApplyDueSteps(CallSlot slot) {
  bool widened = false;
  while (true) {
    Call& call = calls_[slot];
    const CompiledQueue& queue = policy_->queues[call.queue];
    const absl::Time max_wait_at = call.entered_queue + queue.max_wait;
    const absl::Time step_at =
        call.next_step < static_cast<int>(queue.escalation.size())
            ? call.entered_queue + queue.escalation[call.next_step].after
            : absl::InfiniteFuture();
    if (!call.callback && max_wait_at <= now_ && max_wait_at <= step_at) {
      SendToFallback(slot, queue.fallback, "max_wait");
      return;
    }
    if (step_at > now_) break;
    const EscalationStep& step = queue.escalation[call.next_step];
    ++call.next_step;
    if (!ApplyStep(slot, step, step_at)) return;  // the call left this queue (overflow or fallback)
    widened = true;
  }
  ScheduleNextStep(slot);
  if (widened) TryRouteCall(slot);
}

// Returns false when the step moved the call out of its queue.
bool Router::ApplyStep(CallSlot slot, const EscalationStep& step, absl::Time due) {
  Call& call = calls_[slot];
  switch (step.action) {
    case EscalationStep::Action::kRelaxSkillFloor:
      call.skill_floor = std::min<int8_t>(call.skill_floor, step.value);
      return true;
    case EscalationStep::Action::kAddAlternativeSkills:
      return true;  // Eligible() reads the alternative sets of the steps fired so far
    case EscalationStep::Action::kRaisePriority:
      EraseWaiting(slot);
      call.raised_priority += step.value;
      InsertWaiting(slot);
      return true;
    case EscalationStep::Action::kOverflow: {
      const std::string from = policy_->queues[call.queue].name;
      if (HearsPrompts(call)) stats_[call.queue].wait.LeftLine(due - call.entered_queue, now_);
      EraseWaiting(slot);
      call.queue = step.overflow_queue;
      call.announced_position = 0;  // a place in the new line is news, whatever its number
      StartQueueStint(slot, due);  // the new queue's clock starts when the step fell due
      InsertWaiting(slot);
      Emit({.kind = Decision::Kind::kCallOverflowed, .call_id = call.id,
            .queue = policy_->queues[call.queue].name, .from_queue = from});
      SchedulePrompt(slot);  // no new greeting: the updates go on at the new queue's interval
      ApplyDueSteps(slot);  // catches up in the new queue when the step was applied late
      TryRouteCall(slot);
      return false;
    }
    case EscalationStep::Action::kFallback:
      if (call.callback) return true;  // a callback keeps its place whatever the wait
      SendToFallback(slot, step.fallback_target, "escalation");
      return false;
  }
  return true;
}

void Router::SendToFallback(CallSlot slot, const std::string& target, const char* reason) {
  Call& call = calls_[slot];
  if (call.state != CallState::kWaiting) Crash("fallback of a call that is not waiting");
  NoteLeaving(slot, CallFact::Outcome::kSentToFallback);
  if (HearsPrompts(call)) stats_[call.queue].wait.LeftLine(now_ - call.entered_queue, now_);
  EraseWaiting(slot);
  Emit({.kind = Decision::Kind::kSendToFallback, .call_id = call.id,
        .queue = policy_->queues[call.queue].name, .target = target, .reason = reason});
  // A consult that ends here lets the agent who stayed on the line go with the caller.
  const AgentSlot consulting = call.consulting_agent != kNoSlot ? LetGoOfConsult(slot) : kNoSlot;
  FreeCall(slot);
  if (consulting != kNoSlot) {
    Index(consulting);
    TryServeAgent(consulting);
  }
}

}  // namespace acd::routing
