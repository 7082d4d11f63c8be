// Who may take which call: eligibility, the one availability test, the best agent for a call and
// the best call for an agent, and the waiting sets and agent indexes that keep both fast.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "routing/quote.h"
#include "routing/router.h"
#include "routing/router_internal.h"

namespace acd::routing {

using internal::Crash;
using internal::Micros;

// ---------------------------------------------------------------------------------------------
// Eligibility and matching.

bool Router::Available(const Agent& agent) const {
  return agent.ready && agent.offered_call == kNoSlot && now_ >= agent.unavailable_until;
}

bool Router::StillLoggedIn(AgentSlot slot, uint64_t login_seq) const {
  return agent_live_[slot] && agents_[slot].login_seq == login_seq;
}

bool Router::CanTake(const Agent& agent, Channel channel) const {
  if (!Available(agent)) return false;
  const int c = static_cast<int>(channel);
  if (agent.load[c] >= agent.capacity[c]) return false;
  if (policy_->agent_rules.voice_allows_other_channels) return true;
  const int voice = static_cast<int>(Channel::kVoice);
  if (channel == Channel::kVoice) {
    for (int other = 0; other < kChannelCount; ++other) {
      if (other != voice && agent.load[other] > 0) return false;
    }
    return true;
  }
  return agent.load[voice] == 0;
}

bool Router::IsMember(const Agent& agent, QueueId queue) const {
  return std::find(agent.queues.begin(), agent.queues.end(), queue) != agent.queues.end();
}

bool Router::Eligible(const Call& call, const Agent& agent) const {
  if (call.language_bit >= 0 && ((agent.language_mask >> call.language_bit) & 1) == 0) return false;
  for (const SkillLevel& need : call.extra_skills) {
    if (agent.proficiency[need.skill] < need.level) return false;
  }
  const CompiledQueue& queue = policy_->queues[call.queue];
  bool meets_queue_skills = true;
  for (const SkillLevel& need : queue.skills) {
    if (agent.proficiency[need.skill] < std::min(need.level, call.skill_floor)) {
      meets_queue_skills = false;
      break;
    }
  }
  if (meets_queue_skills) return true;
  // Alternative skill sets unlocked by the escalation steps fired so far.
  const int fired = std::min<int>(call.next_step, static_cast<int>(queue.escalation.size()));
  for (int s = 0; s < fired; ++s) {
    const EscalationStep& step = queue.escalation[s];
    if (step.action != EscalationStep::Action::kAddAlternativeSkills) continue;
    bool meets = true;
    for (const SkillLevel& need : step.alternative_skills) {
      if (agent.proficiency[need.skill] < need.level) {
        meets = false;
        break;
      }
    }
    if (meets) return true;
  }
  return false;
}

// The call is still held for its preferred agent: the window is open and the agent who was in that
// slot when the call arrived is still logged in there.
bool Router::PreferredAgentHolds(const Call& call) const {
  return call.preferred_slot != kNoSlot && now_ < call.preferred_until &&
         StillLoggedIn(call.preferred_slot, call.preferred_login);
}

// The agent is not offered the call: it transferred the call away a moment ago, or it is still on
// the line with the caller while a consult finds the next agent.
bool Router::Avoids(const Call& call, AgentSlot agent) const {
  if (call.consulting_agent == agent) return true;
  return call.transferred_from == agent && now_ < call.avoid_until &&
         StillLoggedIn(agent, call.transferred_from_login);
}

bool Router::ReservedForOther(const Call& call, AgentSlot agent) const {
  return call.preferred_slot != agent && PreferredAgentHolds(call);
}

AgentSlot Router::FindAgentFor(CallSlot slot) {
  const Call& call = calls_[slot];
  const CompiledQueue& queue = policy_->queues[call.queue];
  if (PreferredAgentHolds(call)) {
    const Agent& preferred = agents_[call.preferred_slot];
    if (CanTake(preferred, queue.channel) && IsMember(preferred, call.queue) &&
        Eligible(call, preferred) && !Avoids(call, call.preferred_slot)) {
      return call.preferred_slot;
    }
    return kNoSlot;  // the call waits for its preferred agent until the window closes
  }
  const absl::btree_set<AgentKey>& available = available_[call.queue];
  if (available.empty()) return kNoSlot;
  auto start = available.begin();
  if (queue.strategy == Strategy::kRoundRobin) {
    start = available.lower_bound(
        AgentKey{0, static_cast<int64_t>(round_robin_last_[call.queue] + 1), 0, 0});
  } else if (queue.strategy == Strategy::kRandom) {
    start = available.lower_bound(AgentKey{0, static_cast<int64_t>(random_() >> 1), 0, 0});
  }
  // From `start` to the end, then wrap around to it (a no-op wrap for the ordered strategies).
  for (auto it = start; it != available.end(); ++it) {
    if (!Avoids(call, it->slot) && Eligible(call, agents_[it->slot])) return it->slot;
  }
  for (auto it = available.begin(); it != start; ++it) {
    if (!Avoids(call, it->slot) && Eligible(call, agents_[it->slot])) return it->slot;
  }
  return kNoSlot;
}

void Router::TryRouteCall(CallSlot slot) {
  // The slot may have been freed by the step that led here (a fallback, say).
  if (calls_[slot].id.empty() || calls_[slot].state != CallState::kWaiting) return;
  AgentSlot agent = FindAgentFor(slot);
  if (agent != kNoSlot) Offer(slot, agent);
}

void Router::TryServeAgent(AgentSlot agent_slot) {
  const Agent& agent = agents_[agent_slot];
  if (!Available(agent)) return;
  const double now_s = absl::ToDoubleSeconds(now_ - origin_);
  CallSlot best = kNoSlot;
  double best_score = 0;
  for (QueueId q : agent.queues) {
    const CompiledQueue& queue = policy_->queues[q];
    if (!CanTake(agent, queue.channel)) continue;
    waiting_[q].ForEachServable(agent.language_mask, [&](const WaitingCalls::Partition& calls) {
      for (const WaitingKey& key : calls) {
        const Call& call = calls_[key.slot];
        if (ReservedForOther(call, agent_slot) || Avoids(call, agent_slot) ||
            !Eligible(call, agent)) {
          continue;
        }
        const double score = -key.rank_desc + queue.aging_per_second * now_s;
        if (best == kNoSlot || score > best_score ||
            (score == best_score &&
             std::pair(key.arrived_us, key.seq) <
                 std::pair(calls_[best].key.arrived_us, calls_[best].key.seq))) {
          best = key.slot;
          best_score = score;
        }
        break;  // the first eligible call is this partition's best for this agent
      }
    });
  }
  if (best != kNoSlot) Offer(best, agent_slot);
}

void Router::Offer(CallSlot call_slot, AgentSlot agent_slot) {
  Call& call = calls_[call_slot];
  Agent& agent = agents_[agent_slot];
  const CompiledQueue& queue = policy_->queues[call.queue];
  EraseWaiting(call_slot);
  call.state = CallState::kOffered;
  call.agent = agent_slot;
  ScheduleCallTimer(call_slot, TimerKind::kOfferTimeout, now_ + queue.offer_timeout);
  Unindex(agent_slot);
  agent.offered_call = call_slot;
  Recount(agent_slot);
  if (queue.strategy == Strategy::kRoundRobin) round_robin_last_[call.queue] = agent.login_seq;
  if (call.callback) {
    // The agent is reserved and the switch dials the customer who waited for this turn.
    Emit({.kind = Decision::Kind::kStartCallback, .call_id = call.id, .agent_id = agent.id,
          .queue = queue.name, .attempt = call.callback_attempts + 1});
    return;
  }
  Emit({.kind = Decision::Kind::kOfferCall, .call_id = call.id, .agent_id = agent.id,
        .queue = queue.name});
}

// ---------------------------------------------------------------------------------------------
// Waiting sets and agent indexes.

int Router::EffectivePriority(const Call& call) const {
  const CompiledQueue& queue = policy_->queues[call.queue];
  int tier_boost = 0;
  if (!call.tier.empty()) {
    auto it = policy_->tier_priority_boost.find(call.tier);
    if (it != policy_->tier_priority_boost.end()) tier_boost = it->second;
  }
  return queue.priority + call.call_priority + tier_boost + call.raised_priority +
         call.transfer_boost;
}

WaitingKey Router::KeyFor(const Call& call, CallSlot slot) const {
  const CompiledQueue& queue = policy_->queues[call.queue];
  const double arrived_s = absl::ToDoubleSeconds(call.arrived - origin_);
  const double rank = EffectivePriority(call) - queue.aging_per_second * arrived_s;
  return WaitingKey{-rank, Micros(call.arrived), call.seq, slot, Micros(call.entered_queue)};
}

void Router::InsertWaiting(CallSlot slot) {
  Call& call = calls_[slot];
  call.key = KeyFor(call, slot);
  call.state = CallState::kWaiting;
  call.agent = kNoSlot;
  if (!waiting_[call.queue].Insert(call.key, call.language_bit, call.callback)) {
    Crash("call inserted twice");
  }
  ++waiting_count_;
}

void Router::EraseWaiting(CallSlot slot) {
  const Call& call = calls_[slot];
  if (!waiting_[call.queue].Erase(call.key, call.language_bit, call.callback)) {
    Crash("waiting call missing from its queue");
  }
  --waiting_count_;
}

bool Router::QueueFull(QueueId queue) const {
  const uint32_t limit = policy_->queues[queue].max_queue_length;
  return limit > 0 && waiting_[queue].size() > limit;
}

AgentKey Router::AgentKeyFor(const Agent& agent, AgentSlot slot,
                             const CompiledQueue& queue) const {
  const int64_t idle = Micros(agent.idle_since);
  const int64_t load = agent.load[static_cast<int>(queue.channel)];
  switch (queue.strategy) {
    case Strategy::kLongestIdle:
      return {load, idle, static_cast<int64_t>(agent.login_seq), slot};
    case Strategy::kMostProficient: {
      int64_t sum = 0;
      for (const SkillLevel& s : queue.skills) sum += agent.proficiency[s.skill];
      return {load, -sum, idle, slot};
    }
    case Strategy::kFewestCalls:
      return {load, static_cast<int64_t>(agent.handled), idle, slot};
    // Rotation and random draws spread calls on their own; they key on login order or the draw.
    case Strategy::kRoundRobin:
      return {0, static_cast<int64_t>(agent.login_seq), 0, slot};
    case Strategy::kRandom:
      return {0, static_cast<int64_t>(agent.random_key >> 1), static_cast<int64_t>(agent.login_seq),
              slot};
  }
  Crash("unknown strategy");
}

void Router::Unindex(AgentSlot slot) {
  Agent& agent = agents_[slot];
  for (const auto& [queue, key] : agent.indexed) available_[queue].erase(key);
  agent.indexed.clear();
}

void Router::Index(AgentSlot slot) {
  Agent& agent = agents_[slot];
  if (!agent.indexed.empty()) Crash("agent indexed twice");
  Recount(slot);  // whatever changed before the agent is indexed again may change its state
  if (!Available(agent)) return;
  bool drew_random_key = false;
  for (QueueId q : agent.queues) {
    const CompiledQueue& queue = policy_->queues[q];
    if (!CanTake(agent, queue.channel)) continue;
    if (queue.strategy == Strategy::kRandom && !drew_random_key) {
      agent.random_key = random_();  // a fresh draw each time the agent becomes available
      drew_random_key = true;
    }
    AgentKey key = AgentKeyFor(agent, slot, queue);
    available_[q].insert(key);
    agent.indexed.emplace_back(q, key);
  }
}

// A ready agent counts, in each queue it is a member of, as staffing it, and for the calls it can
// hold at once there; and in its pools.
void Router::CountServers(const Agent& agent, int sign) {
  if (!agent.ready) return;
  for (QueueId q : agent.queues) {
    staffed_[q] += sign;
    servers_[q] += sign * static_cast<int>(agent.capacity[static_cast<int>(policy_->queues[q].channel)]);
  }
  CountPools(agent, sign);
}

// Every agent is counted once, under its state, in each queue it is a member of.
void Router::CountByState(const Agent& agent, int sign) {
  for (QueueId q : agent.queues) agents_by_state_[q][static_cast<int>(agent.counted_as)] += sign;
}

void Router::Recount(AgentSlot slot) {
  Agent& agent = agents_[slot];
  const AgentState state = StateOf(agent);
  if (state == agent.counted_as) return;
  CountByState(agent, -1);
  agent.counted_as = state;
  CountByState(agent, +1);
}

bool Router::Qualifies(const Agent& agent, const CompiledQueue& queue) const {
  if (agent.capacity[static_cast<int>(queue.channel)] == 0) return false;
  if (agent.narrowed && std::find(agent.queue_names.begin(), agent.queue_names.end(),
                                  queue.name) == agent.queue_names.end()) {
    return false;
  }
  return std::any_of(queue.membership.begin(), queue.membership.end(), [&](const SkillSet& set) {
    return std::all_of(set.begin(), set.end(), [&](const SkillLevel& need) {
      return agent.proficiency[need.skill] >= need.level;
    });
  });
}

void Router::ComputeMembership(AgentSlot slot) {
  Agent& agent = agents_[slot];
  CountServers(agent, -1);
  CountByState(agent, -1);
  agent.queues.clear();
  for (const CompiledQueue& queue : policy_->queues) {
    if (Qualifies(agent, queue)) agent.queues.push_back(queue.id);
  }
  CountServers(agent, +1);
  agent.counted_as = StateOf(agent);
  CountByState(agent, +1);
}

absl::Status Router::ResolveAgentSkills(Agent& agent, const CompiledPolicy& policy,
                                        bool strict) const {
  agent.proficiency.assign(policy.skill_names.size(), 0);
  for (const NamedSkill& s : agent.skill_names) {
    std::optional<SkillId> id = policy.FindSkill(s.skill);
    if (!id) {
      if (strict) {
        return absl::InvalidArgumentError(
            absl::StrCat("agent ", Quote(agent.id), ": unknown skill ", Quote(s.skill),
                         "; the policy defines: ", absl::StrJoin(policy.skill_names, ", ")));
      }
      continue;  // a skill the new policy no longer routes on
    }
    if (s.proficiency < kMinProficiency || s.proficiency > kMaxProficiency) {
      return absl::InvalidArgumentError(
          absl::StrCat("agent ", Quote(agent.id), ": skill ", Quote(s.skill),
                       " proficiency must be 1-5, not ", s.proficiency));
    }
    agent.proficiency[*id] = static_cast<int8_t>(s.proficiency);
  }
  agent.language_mask = 0;
  for (const std::string& code : agent.language_names) {
    auto it = policy.language_bits.find(code);
    if (it == policy.language_bits.end()) {
      if (strict) {
        return absl::InvalidArgumentError(
            absl::StrCat("agent ", Quote(agent.id), ": unknown language ", Quote(code),
                         "; the policy has: ", absl::StrJoin(policy.languages, ", ")));
      }
      continue;
    }
    agent.language_mask |= uint64_t{1} << it->second;
  }
  return absl::OkStatus();
}

}  // namespace acd::routing
