// Agents: log in and out, ready and not ready, the end of wrap-up, and the wrap-up and cooldown
// times that keep an agent from new offers.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "routing/quote.h"
#include "routing/request_limits.h"
#include "routing/router.h"

namespace acd::routing {

absl::StatusOr<AgentSlot> Router::AgentFor(absl::string_view agent_id) const {
  if (absl::Status s = CheckId(agent_id, "agent_id"); !s.ok()) return s;
  auto it = agent_ids_.find(agent_id);
  if (it == agent_ids_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("agent ", Quote(agent_id), " is not logged in"));
  }
  return it->second;
}

absl::Status Router::Login(const AgentSpec& spec, absl::Time now) {
  Advance(now);
  if (absl::Status s = CheckId(spec.agent_id, "agent_id"); !s.ok()) return s;
  if (agent_ids_.contains(spec.agent_id)) {
    return absl::AlreadyExistsError(absl::StrCat("agent ", Quote(spec.agent_id), " is logged in"));
  }
  if (agent_ids_.size() >= policy_->limits.max_agents) {
    return absl::ResourceExhaustedError(
        absl::StrCat("acd holds its limit of ", policy_->limits.max_agents, " agents"));
  }
  Agent agent;
  agent.id = spec.agent_id;
  agent.skill_names = spec.skills;
  agent.language_names = spec.languages;
  agent.queue_names = spec.queues;
  agent.narrowed = !spec.queues.empty();
  if (absl::Status s = ResolveAgentSkills(agent, *policy_, /*strict=*/true); !s.ok()) return s;
  for (const std::string& name : spec.queues) {
    if (!policy_->FindQueue(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("agent ", Quote(spec.agent_id), ": unknown queue ", Quote(name)));
    }
  }
  if (spec.capacity.empty()) {
    agent.capacity[static_cast<int>(Channel::kVoice)] = 1;
  }
  for (const auto& [channel, count] : spec.capacity) {
    const uint32_t max = policy_->agent_rules.max_capacity[static_cast<int>(channel)];
    if (count > max) {
      return absl::InvalidArgumentError(absl::StrCat("agent ", Quote(spec.agent_id), ": capacity ",
                                                     count, " for ", ChannelName(channel),
                                                     " exceeds the policy's maximum of ", max));
    }
    agent.capacity[static_cast<int>(channel)] = count;
  }
  agent.login_seq = ++next_login_seq_;
  agent.ready = spec.ready;
  agent.not_ready_reason = spec.ready ? "" : "logged_in";
  agent.idle_since = now_;

  AgentSlot slot;
  if (!free_agents_.empty()) {
    slot = free_agents_.back();
    free_agents_.pop_back();
  } else {
    slot = static_cast<AgentSlot>(agents_.size());
    agents_.emplace_back();
    agent_live_.push_back(false);
  }
  agents_[slot] = std::move(agent);
  agent_live_[slot] = true;
  agent_ids_.emplace(agents_[slot].id, slot);
  ComputeMembership(slot);
  Index(slot);
  TryServeAgent(slot);
  return absl::OkStatus();
}

absl::Status Router::Logout(absl::string_view agent_id, absl::Time now) {
  Advance(now);
  absl::StatusOr<AgentSlot> slot = AgentFor(agent_id);
  if (!slot.ok()) return slot.status();
  Agent& agent = agents_[*slot];
  if (!agent.calls.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("agent ", Quote(agent_id), " has ", agent.calls.size(),
                     " call(s) in progress; end them before logging out"));
  }
  Unindex(*slot);
  // Calls waiting in its queues for this agent as their preferred one need not wait any longer.
  // They are tried again in the order the lines would serve them: the agent's queues in turn,
  // each line partition by partition, best first.
  struct Reroute {
    size_t queue_index;
    int partition;
    WaitingKey key;
  };
  std::vector<Reroute> to_reroute;
  for (auto it = held_calls_.lower_bound({*slot, 0}); it != held_calls_.end() && it->first == *slot;
       ++it) {
    const Call& call = calls_[it->second];
    if (call.state != CallState::kWaiting) continue;
    auto queue = std::find(agent.queues.begin(), agent.queues.end(), call.queue);
    if (queue == agent.queues.end()) continue;
    to_reroute.push_back({static_cast<size_t>(queue - agent.queues.begin()),
                          waiting_[call.queue].PartitionIndex(call.language_bit), call.key});
  }
  std::sort(to_reroute.begin(), to_reroute.end(), [](const Reroute& a, const Reroute& b) {
    return std::tie(a.queue_index, a.partition, a.key) < std::tie(b.queue_index, b.partition, b.key);
  });
  for (const Reroute& r : to_reroute) SetPreferredSlot(r.key.slot, kNoSlot);
  const CallSlot offered = agent.offered_call;
  CountServers(agent, -1);
  CountByState(agent, -1);
  timers_.Cancel(&agent.available_timer);
  agent_ids_.erase(agent.id);
  agents_[*slot] = Agent{};
  agent_live_[*slot] = false;
  free_agents_.push_back(*slot);
  if (offered != kNoSlot) {
    Emit({.kind = Decision::Kind::kCancelOffer, .call_id = calls_[offered].id,
          .agent_id = std::string(agent_id), .queue = policy_->queues[calls_[offered].queue].name,
          .reason = "agent_logged_out"});
    CancelCallTimer(offered, TimerKind::kOfferTimeout);
    SetPreferredSlot(offered, kNoSlot);
    ReturnToQueue(offered);
  }
  for (const Reroute& r : to_reroute) TryRouteCall(r.key.slot);
  return absl::OkStatus();
}

absl::Status Router::SetReady(absl::string_view agent_id, absl::Time now) {
  Advance(now);
  absl::StatusOr<AgentSlot> slot = AgentFor(agent_id);
  if (!slot.ok()) return slot.status();
  Agent& agent = agents_[*slot];
  if (agent.ready) return absl::OkStatus();
  Unindex(*slot);
  agent.ready = true;
  CountServers(agent, +1);
  agent.not_ready_reason.clear();
  agent.missed_in_a_row = 0;
  if (agent.calls.empty() && now_ >= agent.unavailable_until) agent.idle_since = now_;
  Index(*slot);
  TryServeAgent(*slot);
  return absl::OkStatus();
}

absl::Status Router::SetNotReady(absl::string_view agent_id, absl::string_view reason,
                                 absl::Time now) {
  Advance(now);
  absl::StatusOr<AgentSlot> slot = AgentFor(agent_id);
  if (!slot.ok()) return slot.status();
  if (reason.size() > kMaxReasonBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("reason is ", reason.size(), " bytes; at most ", kMaxReasonBytes));
  }
  Agent& agent = agents_[*slot];
  Unindex(*slot);
  CountServers(agent, -1);
  agent.ready = false;
  agent.not_ready_reason = reason.empty() ? "not_ready" : std::string(reason);
  Recount(*slot);
  return absl::OkStatus();
}

absl::Status Router::EndWrapUp(absl::string_view agent_id, absl::Time now) {
  Advance(now);
  absl::StatusOr<AgentSlot> slot = AgentFor(agent_id);
  if (!slot.ok()) return slot.status();
  Agent& agent = agents_[*slot];
  if (!agent.wrapping_up || now_ >= agent.unavailable_until) {
    return absl::FailedPreconditionError(
        absl::StrCat("agent ", Quote(agent_id), " is not in wrap-up"));
  }
  Unindex(*slot);
  agent.unavailable_until = now_;
  agent.wrapping_up = false;
  timers_.Cancel(&agent.available_timer);
  if (agent.calls.empty()) agent.idle_since = now_;
  Index(*slot);
  TryServeAgent(*slot);
  return absl::OkStatus();
}

void Router::SetUnavailableUntil(AgentSlot slot, absl::Time until, bool wrap_up) {
  Agent& agent = agents_[slot];
  if (until <= agent.unavailable_until) {
    agent.wrapping_up = agent.wrapping_up || wrap_up;
    return;
  }
  agent.unavailable_until = until;
  agent.wrapping_up = agent.wrapping_up || wrap_up;
  timers_.Cancel(&agent.available_timer);
  agent.available_timer = timers_.Schedule(until, TimerKind::kAgentAvailable, slot);
}

}  // namespace acd::routing
