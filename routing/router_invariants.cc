// Router::CheckInvariants: router_state.h's invariants checked against the live state, every
// derived set and count recounted from the calls and agents, the deadlines a call's state needs
// (CheckState, which RestoreState runs too), and the promise of matching (no available agent
// idles while a call it may take waits). Tests and fuzzers call it after every event; it walks
// everything, so nothing on the request path does.
#include <algorithm>
#include <array>
#include <map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "routing/quote.h"
#include "routing/router.h"
#include "routing/router_internal.h"

namespace acd::routing {
namespace {

template <typename... Parts>
absl::Status Broken(const Parts&... what) {
  return absl::InternalError(absl::StrCat("router invariant broken: ", what...));
}

}  // namespace

absl::Status Router::CheckState() const {
  const size_t queues = policy_->queues.size();
  if (waiting_.size() != queues || available_.size() != queues ||
      round_robin_last_.size() != queues || servers_.size() != queues ||
      staffed_.size() != queues || agents_by_state_.size() != queues || stats_.size() != queues) {
    return Broken("per-queue tables do not match the policy's ", queues, " queues");
  }
  if (agent_live_.size() != agents_.size())
    return Broken("agent liveness does not cover the table");

  // Every pending timer is owned by exactly one active handle, of a live call or agent.
  internal::TimerClaims timers(timers_.Pending());
  auto live_call = [&](CallSlot c) { return c < calls_.size() && !calls_[c].id.empty(); };
  auto live_agent = [&](AgentSlot a) { return a < agents_.size() && agent_live_[a]; };

  // Agents: ids, membership, the calls they hold, their timer, counts and the available sets.
  std::vector<int> staffed(queues, 0), servers(queues, 0);
  std::map<AgentPoolKey, int> pools;
  std::vector<std::array<int, kAgentStateCount>> by_state(queues);
  size_t live_agents = 0, indexed = 0;
  for (AgentSlot a = 0; a < agents_.size(); ++a) {
    const Agent& agent = agents_[a];
    if (!agent_live_[a]) {
      if (!internal::IsFresh(agent)) return Broken("free agent slot ", a, " is not empty");
      continue;
    }
    ++live_agents;
    const auto who = [&] { return absl::StrCat("agent ", Quote(agent.id)); };
    auto id = agent_ids_.find(agent.id);
    if (agent.id.empty() || id == agent_ids_.end() || id->second != a) {
      return Broken(who(), " (slot ", a, ") is not found by its id");
    }
    if (agent.proficiency.size() != policy_->skill_names.size())
      return Broken(who(), ": skill table");
    std::vector<QueueId> members;
    for (const CompiledQueue& queue : policy_->queues) {
      if (Qualifies(agent, queue)) members.push_back(queue.id);
    }
    if (agent.queues != members)
      return Broken(who(), " is a member of other queues than it qualifies for");
    std::array<uint32_t, kChannelCount> load{};
    for (size_t i = 0; i < agent.calls.size(); ++i) {
      const CallSlot c = agent.calls[i];
      if (!live_call(c) ||
          !((calls_[c].state == CallState::kConnected && calls_[c].agent == a) ||
            calls_[c].consulting_agent == a) ||
          std::find(agent.calls.begin(), agent.calls.begin() + i, c) != agent.calls.begin() + i) {
        return Broken(who(), " holds a call (slot ", c, ") not connected with it, or twice");
      }
      ++load[static_cast<int>(calls_[c].channel)];
    }
    if (load != agent.load) return Broken(who(), "'s load differs from the calls it holds");
    for (int ch = 0; ch < kChannelCount; ++ch) {
      if (agent.load[ch] > agent.capacity[ch])
        return Broken(who(), " holds more calls than its capacity");
    }
    if (agent.offered_call != kNoSlot && (!live_call(agent.offered_call) ||
                                          calls_[agent.offered_call].state != CallState::kOffered ||
                                          calls_[agent.offered_call].agent != a)) {
      return Broken(who(), " rings with a call not offered to it");
    }
    // A wrap-up or cooldown always ends by its timer; nothing else makes the agent available.
    if (!timers.Claim(agent.available_timer, TimerKind::kAgentAvailable, a) ||
        (agent.available_timer.active() && agent.available_timer.due != agent.unavailable_until) ||
        (now_ < agent.unavailable_until && !agent.available_timer.active())) {
      return Broken(who(), ": its wrap-up or cooldown timer does not match unavailable_until");
    }
    if (agent.counted_as != StateOf(agent)) {
      return Broken(who(), " is counted as ", AgentStateName(agent.counted_as), " but is ",
                    AgentStateName(StateOf(agent)));
    }
    if (agent.ready) {
      ForEachPoolOf(agent,
                    [&](AgentPoolKey key, int servers) { pools[std::move(key)] += servers; });
    }
    for (QueueId q : agent.queues) {
      ++by_state[q][static_cast<int>(agent.counted_as)];
      if (agent.ready) {
        ++staffed[q];
        servers[q] +=
            static_cast<int>(agent.capacity[static_cast<int>(policy_->queues[q].channel)]);
      }
    }
    // In a queue's available set, under the key its strategy gives it now, exactly when it can be
    // offered one of the queue's calls.
    size_t expected = 0;
    for (QueueId q : agent.queues) {
      const CompiledQueue& queue = policy_->queues[q];
      if (!CanTake(agent, queue.channel)) continue;
      ++expected;
      auto listed = std::find_if(agent.indexed.begin(), agent.indexed.end(),
                                 [&](const auto& entry) { return entry.first == q; });
      if (listed == agent.indexed.end()) {
        return Broken(who(), " can take calls of queue ", Quote(queue.name),
                      " but is not among its available agents");
      }
      const AgentKey key = AgentKeyFor(agent, a, queue);
      if (listed->second != key || !available_[q].contains(key)) {
        return Broken(who(), " sits in queue ", Quote(queue.name),
                      "'s available agents under a stale key");
      }
    }
    if (agent.indexed.size() != expected) {
      return Broken(who(), " is listed as available where it cannot take calls");
    }
    indexed += expected;
  }
  if (live_agents != agent_ids_.size()) return Broken("agent ids name slots that are not live");
  if (!internal::FreeListMatches(free_agents_, agents_.size(),
                                 [&](size_t s) { return !agent_live_[s]; })) {
    return Broken("the free agent slots do not match the free list");
  }
  size_t in_available = 0;
  for (const auto& set : available_) in_available += set.size();
  if (in_available != indexed) return Broken("a queue's available agents hold a stale entry");
  for (size_t q = 0; q < queues; ++q) {
    if (staffed_[q] != staffed[q] || servers_[q] != servers[q] ||
        agents_by_state_[q] != by_state[q]) {
      return Broken("queue ", Quote(policy_->queues[q].name),
                    ": staffed, servers or agents by state differ from a recount");
    }
  }
  if (pools != pools_) return Broken("the agent pools differ from a recount");

  // Calls: ids, their agents, the lines, the deadlines their state needs, holds, held calls.
  std::vector<size_t> waiting(queues, 0);
  std::vector<int> callbacks(queues, 0);
  size_t live_calls = 0, held = 0;
  for (CallSlot c = 0; c < calls_.size(); ++c) {
    const Call& call = calls_[c];
    if (call.id.empty()) {
      if (!internal::IsFresh(call)) return Broken("free call slot ", c, " is not empty");
      continue;
    }
    ++live_calls;
    const auto what = [&] { return absl::StrCat("call ", Quote(call.id)); };
    auto id = call_ids_.find(call.id);
    if (id == call_ids_.end() || id->second != c) {
      return Broken(what(), " (slot ", c, ") is not found by its id");
    }
    if (call.queue >= queues || call.channel != policy_->queues[call.queue].channel) {
      return Broken(what(), ": its queue or channel");
    }
    const CompiledQueue& queue = policy_->queues[call.queue];
    for (int k = 0; k < kCallTimerKinds; ++k) {
      if (!timers.Claim(call.timers[k], static_cast<TimerKind>(k), c)) {
        return Broken(what(), ": its timer ", k, " is not the pending one");
      }
    }
    const auto timer = [&](TimerKind kind) { return call.timers[static_cast<int>(kind)]; };
    const bool in_line = waiting_[call.queue].Contains(call.key, call.language_bit);
    if (in_line != (call.state == CallState::kWaiting)) {
      return Broken(what(), in_line ? " is in its queue's line but not waiting"
                                    : " waits but is not in its queue's line");
    }
    switch (call.state) {
      case CallState::kWaiting: {
        ++waiting[call.queue];
        callbacks[call.queue] += call.callback;
        if (call.agent != kNoSlot) return Broken(what(), " waits but names an agent");
        const WaitingKey key = KeyFor(call, c);
        if (call.key.slot != c || call.key.seq != call.seq || call.key.rank_desc != key.rank_desc ||
            call.key.arrived_us != key.arrived_us || call.key.entered_us != key.entered_us) {
          return Broken(what(), " waits under a stale key (its priority or times changed)");
        }
        // Its deadlines in this queue: the next escalation step, the max wait, the next prompt.
        const bool step_left = call.next_step < static_cast<int>(queue.escalation.size());
        if (timer(TimerKind::kEscalationStep).active() != step_left ||
            (step_left && timer(TimerKind::kEscalationStep).due !=
                              call.entered_queue + queue.escalation[call.next_step].after)) {
          return Broken(what(), " waits without its next escalation step scheduled");
        }
        if (!call.callback && queue.max_wait != absl::InfiniteDuration() &&
            !timer(TimerKind::kMaxWait).active()) {
          return Broken(what(), " waits in ", Quote(queue.name), " without its max wait scheduled");
        }
        if (HearsPrompts(call) && !timer(TimerKind::kPromptDue).active()) {
          return Broken(what(), " waits in line with no prompt scheduled");
        }
        break;
      }
      case CallState::kOffered:
        if (!live_agent(call.agent) || agents_[call.agent].offered_call != c) {
          return Broken(what(), " is offered to an agent that does not ring with it");
        }
        if (!timer(TimerKind::kOfferTimeout).active()) {
          return Broken(what(), " rings with no offer timeout scheduled");
        }
        break;
      case CallState::kConnected: {
        const bool holds =
            live_agent(call.agent) &&
            std::find(agents_[call.agent].calls.begin(), agents_[call.agent].calls.end(), c) !=
                agents_[call.agent].calls.end();
        if (!holds) return Broken(what(), " is connected to an agent that does not hold it");
        if (timer(TimerKind::kOfferTimeout).active())
          return Broken(what(), " is connected but its offer can time out");
        break;
      }
      case CallState::kCallbackPending:
        if (call.agent != kNoSlot || !call.callback) {
          return Broken(what(), " waits for a callback retry but holds an agent or is no callback");
        }
        if (!timer(TimerKind::kCallbackRetry).active()) {
          return Broken(what(), " waits for a callback retry that is not scheduled");
        }
        break;
    }
    if (call.consulting_agent != kNoSlot) {
      if (!live_agent(call.consulting_agent) ||
          std::find(agents_[call.consulting_agent].calls.begin(),
                    agents_[call.consulting_agent].calls.end(),
                    c) == agents_[call.consulting_agent].calls.end()) {
        return Broken(what(), ": its consulting agent does not hold it");
      }
      if (call.state != CallState::kWaiting && call.state != CallState::kOffered) {
        return Broken(what(), " is in a consult but neither waits nor rings");
      }
    }
    if (call.on_hold) {
      if (call.state != CallState::kConnected && call.consulting_agent == kNoSlot) {
        return Broken(what(), " is on hold with no agent on the line");
      }
      if (!timer(TimerKind::kHoldReminder).active()) {
        return Broken(what(), " is on hold with no reminder scheduled");
      }
    } else if (timer(TimerKind::kHoldReminder).active() ||
               timer(TimerKind::kHoldOverrun).active()) {
      return Broken(what(), " is not on hold but has hold timers");
    }
    if (call.preferred_slot != kNoSlot) {
      ++held;
      if (call.preferred_slot >= agents_.size() ||
          !held_calls_.contains({call.preferred_slot, c})) {
        return Broken(what(), " is held for an agent but not listed as held");
      }
    }
  }
  if (live_calls != call_ids_.size()) return Broken("call ids name slots that are not live");
  if (held != held_calls_.size()) return Broken("the held calls list calls not held");
  if (!internal::FreeListMatches(free_calls_, calls_.size(),
                                 [&](size_t s) { return calls_[s].id.empty(); })) {
    return Broken("the free call slots do not match the free list");
  }
  size_t waiting_total = 0;
  for (size_t q = 0; q < queues; ++q) {
    // Each waiting call is in its own line (checked above); the sizes say it is in no other.
    if (waiting_[q].size() != waiting[q] || waiting_[q].callbacks() != callbacks[q]) {
      return Broken("queue ", Quote(policy_->queues[q].name), "'s line holds ", waiting_[q].size(),
                    " calls (", waiting_[q].callbacks(), " callbacks) but ", waiting[q], " (",
                    callbacks[q], ") wait in it");
    }
    waiting_total += waiting[q];
  }
  if (waiting_count_ != waiting_total) return Broken("the waiting count differs from the lines");
  if (timers.unclaimed() > 0)
    return Broken(timers.unclaimed(), " pending timer(s) without an owner");
  return absl::OkStatus();
}

absl::Status Router::CheckInvariants() const {
  if (absl::Status s = CheckState(); !s.ok()) return s;
  // Matching: an agent that can be offered a call is never left idle while one it may take waits.
  for (AgentSlot a = 0; a < agents_.size(); ++a) {
    if (!agent_live_[a]) continue;
    const Agent& agent = agents_[a];
    for (QueueId q : agent.queues) {
      if (!CanTake(agent, policy_->queues[q].channel)) continue;
      std::optional<CallSlot> missed;
      waiting_[q].ForEachServable(agent.language_mask, [&](const WaitingCalls::Partition& line) {
        for (const WaitingKey& key : line) {
          const Call& call = calls_[key.slot];
          if (!missed && !ReservedForOther(call, a) && !Avoids(call, a) && Eligible(call, agent)) {
            missed = key.slot;
          }
        }
      });
      if (missed) {
        return Broken("agent ", Quote(agent.id), " is available while call ",
                      Quote(calls_[*missed].id), ", which it may take, waits in queue ",
                      Quote(policy_->queues[q].name));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace acd::routing
