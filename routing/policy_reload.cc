// Policy reload: what a new policy may not drop while live calls use it, and swapping it in under
// live calls and agents.
#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "routing/quote.h"
#include "routing/router.h"

namespace acd::routing {

absl::Status Router::CanReplacePolicy(const CompiledPolicy& policy) const {
  // Refuse, changing nothing, if live calls depend on something the new policy drops.
  std::vector<std::string> missing;
  for (const auto& [id, slot] : call_ids_) {
    const Call& call = calls_[slot];
    const std::string& queue = policy_->queues[call.queue].name;
    if (!policy.FindQueue(queue)) {
      missing.push_back(absl::StrCat("queue ", Quote(queue), " (call ", Quote(id), ")"));
      continue;
    }
    if (policy.queues[*policy.FindQueue(queue)].channel != call.channel) {
      missing.push_back(
          absl::StrCat("the channel of queue ", Quote(queue), " (call ", Quote(id), ")"));
    }
    for (const NamedSkill& s : call.extra_skill_names) {
      if (!policy.FindSkill(s.skill)) {
        missing.push_back(absl::StrCat("skill ", Quote(s.skill), " (call ", Quote(id), ")"));
      }
    }
    if (!call.language.empty() && !policy.language_bits.contains(call.language)) {
      missing.push_back(absl::StrCat("language ", Quote(call.language), " (call ", Quote(id), ")"));
    }
  }
  if (!missing.empty()) {
    std::sort(missing.begin(), missing.end());
    if (missing.size() > 10) missing.resize(10), missing.push_back("...");
    return absl::FailedPreconditionError(absl::StrCat(
        "the new policy drops what live calls use: ", absl::StrJoin(missing, "; "),
        ". Drain those calls first or keep these in the policy"));
  }
  return absl::OkStatus();
}

absl::Status Router::ReplacePolicy(std::shared_ptr<const CompiledPolicy> policy, absl::Time now) {
  Advance(now);
  if (absl::Status s = CanReplacePolicy(*policy); !s.ok()) return s;

  // Map live calls to the new policy's queue ids before swapping. A consult's queue of origin
  // that the new policy drops becomes the call's own queue.
  std::vector<std::pair<CallSlot, QueueId>> live;
  for (const auto& [id, slot] : call_ids_) {
    Call& call = calls_[slot];
    const QueueId queue = *policy->FindQueue(policy_->queues[call.queue].name);
    live.emplace_back(slot, queue);
    if (call.consulting_agent != kNoSlot) {
      call.consult_from_queue =
          policy->FindQueue(policy_->queues[call.consult_from_queue].name).value_or(queue);
    }
  }
  std::sort(live.begin(), live.end());
  for (AgentSlot a = 0; a < agents_.size(); ++a) {
    if (agent_live_[a]) Unindex(a);
  }
  // What was learned and counted about each queue stays with the queue's name.
  absl::flat_hash_map<std::string, QueueStats> learned;
  for (const CompiledQueue& q : policy_->queues) learned[q.name] = std::move(stats_[q.id]);
  policy_ = std::move(policy);
  const size_t queues = policy_->queues.size();
  waiting_.clear();
  waiting_.resize(queues);
  available_.assign(queues, {});
  round_robin_last_.assign(queues, 0);
  servers_.assign(queues, 0);  // recounted as membership is
  staffed_.assign(queues, 0);
  pools_.clear();
  pools_by_queue_.assign(queues, {});
  ++pools_version_;
  agents_by_state_.assign(queues, {});
  stats_.assign(queues, {});
  for (const CompiledQueue& q : policy_->queues) {
    if (auto it = learned.find(q.name); it != learned.end()) stats_[q.id] = std::move(it->second);
  }
  waiting_count_ = 0;

  for (const auto& [slot, queue] : live) {
    Call& call = calls_[slot];
    call.queue = queue;
    call.extra_skills.clear();
    for (const NamedSkill& s : call.extra_skill_names) {
      call.extra_skills.push_back({*policy_->FindSkill(s.skill), static_cast<int8_t>(s.proficiency)});
    }
    call.language_bit = call.language.empty() ? -1 : policy_->language_bits.at(call.language);
    if (!call.tier.empty() && !policy_->tier_priority_boost.contains(call.tier)) call.tier.clear();
  }
  for (AgentSlot a = 0; a < agents_.size(); ++a) {
    if (!agent_live_[a]) continue;
    Agent& agent = agents_[a];
    // Not strict: an agent keeps working when a skill or language they have leaves the policy.
    (void)ResolveAgentSkills(agent, *policy_, /*strict=*/false);
    std::erase_if(agent.queue_names, [&](const std::string& q) { return !policy_->FindQueue(q); });
    agent.queues.clear();
    ComputeMembership(a);
  }
  // Waiting and ringing calls restart their stint under the new queue settings from the time they
  // entered the queue: steps, max wait and preferred windows keep their times. A ringing call's
  // offer timeout stands; what fell due meanwhile applies if its offer fails.
  // Prompt and hold cadences go on from the last prompt or reminder at the new intervals.
  for (const auto& [slot, queue] : live) {
    Call& call = calls_[slot];
    if (call.on_hold) ScheduleHoldTimers(slot);
    if (call.state == CallState::kConnected) continue;
    StartQueueStint(slot, call.entered_queue);
    if (call.held_for != kNoSlot && now_ < call.held_until &&
        StillLoggedIn(call.held_for, call.held_for_login)) {
      HoldForAgent(slot, call.held_for, call.held_until);  // a transfer's hold outlives a reload
    }
    if (call.state == CallState::kWaiting) {
      InsertWaiting(slot);
      SchedulePrompt(slot);
    }
  }
  for (AgentSlot a = 0; a < agents_.size(); ++a) {
    if (agent_live_[a]) Index(a);
  }
  Advance(now_);  // deadlines the new policy puts in the past run now, in time order
  for (AgentSlot a = 0; a < agents_.size(); ++a) {
    if (agent_live_[a]) TryServeAgent(a);
  }
  return absl::OkStatus();
}

}  // namespace acd::routing
