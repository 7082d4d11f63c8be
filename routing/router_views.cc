// What Router's users read: CallView, AgentView, QueueView and a caller's position (the expected
// wait estimates are expected_wait.cc's).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "routing/quote.h"
#include "routing/router.h"

namespace acd::routing {

int Router::Position(CallSlot slot) const {
  return waiting_[calls_[slot].queue].Position(calls_[slot].key);
}

AgentState Router::StateOf(const Agent& agent) const {
  if (agent.offered_call != kNoSlot) return AgentState::kReserved;
  if (!agent.calls.empty()) return AgentState::kBusy;
  if (now_ < agent.unavailable_until) {
    return agent.wrapping_up ? AgentState::kWrapUp : AgentState::kNotReady;  // offer cooldown
  }
  return agent.ready ? AgentState::kReady : AgentState::kNotReady;
}

std::optional<CallView> Router::FindCall(absl::string_view call_id) const {
  auto it = call_ids_.find(call_id);
  if (it == call_ids_.end()) return std::nullopt;
  return ViewOf(it->second, /*in_line=*/true);
}

CallView Router::ViewOf(CallSlot slot, bool in_line) const {
  const Call& call = calls_[slot];
  CallView view;
  view.call_id = call.id;
  view.queue = policy_->queues[call.queue].name;
  view.state = call.state;
  const bool waiting = in_line && call.state == CallState::kWaiting;
  view.position = waiting ? Position(slot) : 0;
  if (call.agent != kNoSlot) view.agent_id = agents_[call.agent].id;
  view.arrived = call.arrived;
  view.entered_queue = call.entered_queue;
  view.priority = EffectivePriority(call);
  view.escalation_steps_fired = call.next_step;
  view.transfers = call.transfers;
  if (waiting) view.expected_wait = ExpectedWait(slot, view.position);
  view.on_hold = call.on_hold;
  if (call.on_hold) view.hold_started = call.hold_started;
  view.holds = call.holds;
  view.hold_time = call.hold_time + (call.on_hold ? now_ - call.hold_started : absl::ZeroDuration());
  view.callback = call.callback;
  view.callback_attempts = call.callback_attempts;
  if (call.consulting_agent != kNoSlot) view.consulting_agent = agents_[call.consulting_agent].id;
  view.prompts_played = call.prompts_played;
  return view;
}

std::optional<CallState> Router::CallStateOf(absl::string_view call_id) const {
  auto it = call_ids_.find(call_id);
  if (it == call_ids_.end()) return std::nullopt;
  return calls_[it->second].state;
}

std::optional<absl::Duration> Router::ExpectedWaitOf(absl::string_view call_id) const {
  auto it = call_ids_.find(call_id);
  if (it == call_ids_.end() || calls_[it->second].state != CallState::kWaiting) return std::nullopt;
  return ExpectedWait(it->second, Position(it->second));
}

std::optional<AgentView> Router::FindAgent(absl::string_view agent_id) const {
  auto it = agent_ids_.find(agent_id);
  if (it == agent_ids_.end()) return std::nullopt;
  const Agent& agent = agents_[it->second];
  AgentView view;
  view.agent_id = agent.id;
  view.state = StateOf(agent);
  if (!agent.ready) {
    view.not_ready_reason = agent.not_ready_reason;
  } else if (view.state == AgentState::kNotReady) {
    view.not_ready_reason = "offer_cooldown";  // after a missed offer, back by itself
  }
  view.idle_since = agent.idle_since;
  view.calls_handled = agent.handled;
  view.missed_offers_in_a_row = agent.missed_in_a_row;
  for (QueueId q : agent.queues) view.queues.push_back(policy_->queues[q].name);
  view.load = agent.load;
  return view;
}

absl::StatusOr<QueueView> Router::Queue(absl::string_view queue) const {
  std::optional<QueueId> id = policy_->FindQueue(queue);
  if (!id) return absl::NotFoundError(absl::StrCat("queue ", Quote(queue), " does not exist"));
  QueueView view;
  view.queue = std::string(queue);
  const WaitingCalls& line = waiting_[*id];
  view.calls_waiting = static_cast<int>(line.size());
  view.oldest_arrival = line.OldestArrival();
  view.callbacks_waiting = line.callbacks();
  view.agents_by_state = agents_by_state_[*id];
  view.staffed_agents = staffed_[*id];
  const QueueStats& stats = stats_[*id];
  view.mean_handle_seconds =
      stats.wait.calls_ended() > 0
          ? stats.wait.mean_talk_seconds() + absl::ToDoubleSeconds(policy_->queues[*id].wrap_up)
          : 0;
  view.abandonment_rate_per_second = stats.wait.abandonment_rate_per_second();
  view.prompts_played = stats.prompts_played;
  view.callbacks_accepted = stats.callbacks_accepted;
  view.callbacks_gave_up = stats.callbacks_gave_up;
  view.hold_overruns = stats.hold_overruns;
  // An agent free now takes a new caller at once (any agent of the queue fits a plain call).
  view.expected_wait_for_new_call = available_[*id].empty()
                                        ? ExpectedWaitForNewCall(*id)
                                        : std::optional<absl::Duration>(absl::ZeroDuration());
  return view;
}

}  // namespace acd::routing
