#include "routing/router.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace acd::routing {
namespace {

constexpr size_t kMaxIdBytes = 128;
constexpr size_t kMaxReasonBytes = 64;

// "Can't happen": a broken invariant of the router itself, never bad input.
[[noreturn]] void Crash(const char* what) {
  std::fprintf(stderr, "acd router invariant broken: %s\n", what);
  std::abort();
}

absl::Status CheckId(absl::string_view id, const char* field) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", id.size(), " bytes; at most ", kMaxIdBytes));
  }
  return absl::OkStatus();
}

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

}  // namespace

Router::Router(std::shared_ptr<const CompiledPolicy> policy, absl::Time now)
    : policy_(std::move(policy)), origin_(now), now_(now), random_(policy_->random_seed) {
  const size_t queues = policy_->queues.size();
  waiting_.resize(queues);
  available_.resize(queues);
  members_.resize(queues);
  round_robin_last_.assign(queues, 0);
  servers_.assign(queues, 0);
  stats_.resize(queues);
}

// ---------------------------------------------------------------------------------------------
// Time.

absl::Time Router::Advance(absl::Time now) {
  now = std::max(now, now_);  // the router's clock never runs backwards
  while (std::optional<Timer> timer = timers_.PopDue(now)) {
    now_ = std::max(now_, timer->due);
    RunTimer(*timer);
  }
  now_ = now;
  return now_;
}

void Router::AdvanceTo(absl::Time now) { Advance(now); }

std::optional<absl::Time> Router::NextWakeup() { return timers_.Earliest(); }

void Router::ScheduleCallTimer(CallSlot slot, TimerKind kind, absl::Time due) {
  TimerHandle& handle = calls_[slot].timers[static_cast<int>(kind)];
  timers_.Cancel(&handle);
  handle = timers_.Schedule(due, kind, slot);
}

void Router::CancelCallTimer(CallSlot slot, TimerKind kind) {
  timers_.Cancel(&calls_[slot].timers[static_cast<int>(kind)]);
}

void Router::CancelCallTimers(CallSlot slot) {
  for (TimerHandle& handle : calls_[slot].timers) timers_.Cancel(&handle);
}

void Router::RunTimer(const Timer& timer) {
  if (timer.kind == TimerKind::kAgentAvailable) {
    Agent& agent = agents_[timer.slot];
    agent.available_timer = TimerHandle{};
    if (agent.wrapping_up && agent.load == std::array<uint32_t, kChannelCount>{}) {
      agent.idle_since = now_;
    }
    agent.wrapping_up = false;
    Reindex(timer.slot);
    TryServeAgent(timer.slot);
    return;
  }
  Call& call = calls_[timer.slot];
  call.timers[static_cast<int>(timer.kind)] = TimerHandle{};
  switch (timer.kind) {
    case TimerKind::kOfferTimeout:
      if (call.state != CallState::kOffered) Crash("offer timeout of a call not offered");
      FailOffer(timer.slot, /*rejected=*/false, /*cancel_at_switch=*/true);
      return;
    case TimerKind::kEscalationStep:
      if (call.state != CallState::kWaiting) return;  // offered: caught up if it fails
      ApplyDueSteps(timer.slot);
      return;
    case TimerKind::kMaxWait:
      if (call.state != CallState::kWaiting) return;  // offered: caught up if it fails
      ApplyDueSteps(timer.slot);                       // sends the call to the fallback
      return;
    case TimerKind::kPreferredAgentEnd:
      if (call.state != CallState::kWaiting) return;  // offered: caught up if it fails
      call.preferred_slot = kNoSlot;
      TryRouteCall(timer.slot);
      return;
    case TimerKind::kAvoidEnd:
      if (call.state != CallState::kWaiting) return;
      TryRouteCall(timer.slot);  // the agent who sent it on may take it now
      return;
    case TimerKind::kPromptDue:
      // Offered: left in place (cancelling it would cost every offer a timer erase); the call
      // catches up when it comes back, or an accepted offer cancels it.
      if (HearsPrompts(call)) PromptInLine(timer.slot);
      return;
    case TimerKind::kHoldReminder:
      if (call.on_hold) RemindHold(timer.slot);
      return;
    case TimerKind::kHoldOverrun:
      if (call.on_hold) FlagHoldOverruns(timer.slot);
      return;
    case TimerKind::kCallbackRetry:
      if (call.state != CallState::kCallbackPending) Crash("callback retry of a call not pending");
      ReturnToQueue(timer.slot);  // its key is its own: it regains its place
      return;
    case TimerKind::kAgentAvailable:
      return;
  }
}

std::vector<Decision> Router::TakeDecisions() {
  std::vector<Decision> out;
  out.swap(decisions_);
  return out;
}

void Router::Emit(Decision decision) {
  decision.at = now_;
  decisions_.push_back(std::move(decision));
}

// ---------------------------------------------------------------------------------------------
// Eligibility and matching.

bool Router::CanTake(const Agent& agent, Channel channel) const {
  if (!agent.ready || agent.offered_call != kNoSlot || now_ < agent.unavailable_until) return false;
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
         agent_live_[call.preferred_slot] &&
         agents_[call.preferred_slot].login_seq == call.preferred_login;
}

// The agent is not offered the call: it transferred the call away a moment ago, or it is still on
// the line with the caller while a consult finds the next agent.
bool Router::Avoids(const Call& call, AgentSlot agent) const {
  if (call.consulting_agent == agent) return true;
  return call.transferred_from == agent && now_ < call.avoid_until && agent_live_[agent] &&
         agents_[agent].login_seq == call.transferred_from_login;
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
  if (!agent.ready || agent.offered_call != kNoSlot || now_ < agent.unavailable_until) return;
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
  return WaitingKey{-rank, Micros(call.arrived), call.seq, slot};
}

void Router::InsertWaiting(CallSlot slot) {
  Call& call = calls_[slot];
  call.key = KeyFor(call, slot);
  call.state = CallState::kWaiting;
  call.agent = kNoSlot;
  if (!waiting_[call.queue].Insert(call.key, call.language_bit)) Crash("call inserted twice");
  ++waiting_count_;
}

void Router::EraseWaiting(CallSlot slot) {
  const Call& call = calls_[slot];
  if (!waiting_[call.queue].Erase(call.key, call.language_bit)) {
    Crash("waiting call missing from its queue");
  }
  --waiting_count_;
}

Router::AgentKey Router::AgentKeyFor(const Agent& agent, AgentSlot slot,
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
  if (!agent.ready || agent.offered_call != kNoSlot || now_ < agent.unavailable_until) return;
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

// A ready agent counts, in each queue it is a member of, for the calls it can hold at once there.
void Router::CountServers(const Agent& agent, int sign) {
  if (!agent.ready) return;
  for (QueueId q : agent.queues) {
    servers_[q] += sign * static_cast<int>(agent.capacity[static_cast<int>(policy_->queues[q].channel)]);
  }
}

void Router::ComputeMembership(AgentSlot slot) {
  Agent& agent = agents_[slot];
  CountServers(agent, -1);
  for (QueueId q : agent.queues) {
    auto& list = members_[q];
    list.erase(std::remove(list.begin(), list.end(), slot), list.end());
  }
  agent.queues.clear();
  for (const CompiledQueue& queue : policy_->queues) {
    if (agent.capacity[static_cast<int>(queue.channel)] == 0) continue;
    if (agent.narrowed &&
        std::find(agent.queue_names.begin(), agent.queue_names.end(), queue.name) ==
            agent.queue_names.end()) {
      continue;
    }
    bool qualifies = false;
    for (const SkillSet& set : queue.membership) {
      qualifies = std::all_of(set.begin(), set.end(), [&](const SkillLevel& need) {
        return agent.proficiency[need.skill] >= need.level;
      });
      if (qualifies) break;
    }
    if (!qualifies) continue;
    agent.queues.push_back(queue.id);
    members_[queue.id].push_back(slot);
  }
  CountServers(agent, +1);
}

absl::Status Router::ResolveAgentSkills(Agent& agent, const CompiledPolicy& policy,
                                        bool strict) const {
  agent.proficiency.assign(policy.skill_names.size(), 0);
  for (const NamedSkill& s : agent.skill_names) {
    std::optional<SkillId> id = policy.FindSkill(s.skill);
    if (!id) {
      if (strict) {
        return absl::InvalidArgumentError(absl::StrCat(
            "agent '", agent.id, "': unknown skill '", s.skill, "'; the policy defines: ",
            absl::StrJoin(policy.skill_names, ", ")));
      }
      continue;  // a skill the new policy no longer routes on
    }
    if (s.proficiency < kMinProficiency || s.proficiency > kMaxProficiency) {
      return absl::InvalidArgumentError(absl::StrCat("agent '", agent.id, "': skill '", s.skill,
                                                     "' proficiency must be 1-5, not ",
                                                     s.proficiency));
    }
    agent.proficiency[*id] = static_cast<int8_t>(s.proficiency);
  }
  agent.language_mask = 0;
  for (const std::string& code : agent.language_names) {
    auto it = policy.language_bits.find(code);
    if (it == policy.language_bits.end()) {
      if (strict) {
        return absl::InvalidArgumentError(absl::StrCat(
            "agent '", agent.id, "': unknown language '", code, "'; the policy has: ",
            absl::StrJoin(policy.languages, ", ")));
      }
      continue;
    }
    agent.language_mask |= uint64_t{1} << it->second;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Calls.

absl::StatusOr<EnqueueResult> Router::Enqueue(const CallSpec& spec, absl::Time now) {
  Advance(now);
  if (absl::Status s = CheckId(spec.call_id, "call_id"); !s.ok()) return s;
  if (call_ids_.contains(spec.call_id)) {
    return absl::AlreadyExistsError(absl::StrCat("call '", spec.call_id, "' is already queued"));
  }
  std::optional<QueueId> queue_id = policy_->FindQueue(spec.queue);
  if (!queue_id) return absl::NotFoundError(absl::StrCat("queue '", spec.queue, "' does not exist"));
  const CompiledQueue& queue = policy_->queues[*queue_id];
  if (spec.channel && *spec.channel != queue.channel) {
    return absl::InvalidArgumentError(absl::StrCat("channel: queue '", queue.name, "' serves ",
                                                   ChannelName(queue.channel), ", not ",
                                                   ChannelName(*spec.channel)));
  }
  if (spec.priority < 0 || spec.priority > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("priority must be 0-1000, not ", spec.priority));
  }
  Call call;
  for (const NamedSkill& s : spec.required_skills) {
    std::optional<SkillId> id = policy_->FindSkill(s.skill);
    if (!id) {
      return absl::InvalidArgumentError(
          absl::StrCat("required_skills: unknown skill '", s.skill, "'"));
    }
    if (s.proficiency < kMinProficiency || s.proficiency > kMaxProficiency) {
      return absl::InvalidArgumentError(absl::StrCat(
          "required_skills: skill '", s.skill, "' minimum must be 1-5, not ", s.proficiency));
    }
    call.extra_skills.push_back({*id, static_cast<int8_t>(s.proficiency)});
  }
  if (!spec.tier.empty() && !policy_->tier_priority_boost.contains(spec.tier)) {
    return absl::InvalidArgumentError(absl::StrCat("tier: unknown tier '", spec.tier, "'"));
  }
  if (!spec.language.empty()) {
    auto it = policy_->language_bits.find(spec.language);
    if (it == policy_->language_bits.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("language: unknown language '", spec.language, "'; the policy has: ",
                       absl::StrJoin(policy_->languages, ", ")));
    }
    call.language_bit = it->second;
  }
  if (!spec.preferred_agent.empty()) {
    if (absl::Status s = CheckId(spec.preferred_agent, "preferred_agent"); !s.ok()) return s;
  }
  if (spec.attributes.size() > policy_->limits.max_call_attributes) {
    return absl::InvalidArgumentError(absl::StrCat("attributes: ", spec.attributes.size(),
                                                   " given; at most ",
                                                   policy_->limits.max_call_attributes));
  }
  for (const auto& [key, value] : spec.attributes) {
    if (key.empty()) return absl::InvalidArgumentError("attributes: a key is empty");
    if (key.size() + value.size() > policy_->limits.max_attribute_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("attributes: '", key.substr(0, 32), "' is ", key.size() + value.size(),
                       " bytes; at most ", policy_->limits.max_attribute_bytes));
    }
  }

  CallSlot slot;
  if (!free_calls_.empty()) {
    slot = free_calls_.back();
    free_calls_.pop_back();
  } else {
    slot = static_cast<CallSlot>(calls_.size());
    calls_.emplace_back();
  }
  call.id = spec.call_id;
  call.seq = next_call_seq_++;
  call.queue = *queue_id;
  call.channel = queue.channel;
  call.extra_skill_names = spec.required_skills;
  call.call_priority = spec.priority;
  call.tier = spec.tier;
  call.language = spec.language;
  call.preferred_agent = spec.preferred_agent;
  call.attributes = spec.attributes;
  call.arrived = now_;
  calls_[slot] = std::move(call);
  call_ids_.emplace(spec.call_id, slot);
  StartQueueStint(slot, now_);
  InsertWaiting(slot);
  TryRouteCall(slot);
  if (calls_[slot].state == CallState::kOffered) {
    return EnqueueResult{EnqueueResult::Disposition::kOffered, 0, ""};
  }
  // No agent free: only now do the limits on waiting calls apply.
  if (waiting_count_ > policy_->limits.max_calls_waiting) {
    EraseWaiting(slot);
    FreeCall(slot);
    return absl::ResourceExhaustedError(absl::StrCat(
        "acd holds its limit of ", policy_->limits.max_calls_waiting, " waiting calls"));
  }
  if (queue.max_queue_length > 0 && waiting_[*queue_id].size() > queue.max_queue_length) {
    // Full: the call does not join; the switch sends it to the queue's fallback.
    SendToFallback(slot, queue.fallback, "queue_full");
    return EnqueueResult{EnqueueResult::Disposition::kSentToFallback, 0, queue.fallback};
  }
  const int position = Position(slot);
  const std::optional<absl::Duration> expected_wait = ExpectedWait(*queue_id, position);
  GreetInLine(slot, position, expected_wait);
  return EnqueueResult{EnqueueResult::Disposition::kQueued, position, "", expected_wait};
}

int Router::StaffedAgents(QueueId queue) const {
  int staffed = 0;
  for (AgentSlot a : members_[queue]) staffed += agents_[a].ready;
  return staffed;
}

std::optional<absl::Duration> Router::ExpectedWait(QueueId queue, int position) const {
  const QueueWaitEstimator& estimator = stats_[queue].wait;
  QueueWaitEstimator::Line line{.ahead = std::max(0, position - 1),
                                .servers = servers_[queue],
                                .wrap_up = policy_->queues[queue].wrap_up};
  // The head of the line's wait is the estimator's last resort, needed only until a caller here
  // has reached an agent; finding it walks the whole queue, so it is skipped once it cannot count.
  if (!estimator.last_served_wait()) {
    std::optional<absl::Time> oldest;
    waiting_[queue].ForEach([&](const WaitingKey& key) {
      const absl::Time entered = calls_[key.slot].entered_queue;
      if (!oldest || entered < *oldest) oldest = entered;
    });
    if (oldest) line.head_wait = now_ - *oldest;
  }
  return estimator.Estimate(line, now_);
}

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
  call.preferred_slot = kNoSlot;
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
  call.preferred_slot = agent;
  call.preferred_login = agents_[agent].login_seq;
  call.preferred_until = until;
  ScheduleCallTimer(slot, TimerKind::kPreferredAgentEnd, until);
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

void Router::FreeCall(CallSlot slot) {
  if (calls_[slot].consulting_agent != kNoSlot) Crash("call freed while its agent is on the line");
  CancelCallTimers(slot);
  call_ids_.erase(calls_[slot].id);
  calls_[slot] = Call{};
  free_calls_.push_back(slot);
}

absl::StatusOr<CallSlot> Router::CallFor(absl::string_view call_id) const {
  if (absl::Status s = CheckId(call_id, "call_id"); !s.ok()) return s;
  auto it = call_ids_.find(call_id);
  if (it == call_ids_.end()) return absl::NotFoundError(absl::StrCat("no call '", call_id, "'"));
  return it->second;
}

absl::StatusOr<CallSlot> Router::OfferedCall(absl::string_view call_id,
                                             absl::string_view agent_id) const {
  absl::StatusOr<CallSlot> slot = CallFor(call_id);
  if (!slot.ok()) return slot.status();
  const Call& call = calls_[*slot];
  if (call.state != CallState::kOffered) {
    return absl::FailedPreconditionError(
        absl::StrCat("call '", call_id, "' has no offer outstanding"));
  }
  if (agents_[call.agent].id != agent_id) {
    return absl::FailedPreconditionError(absl::StrCat("call '", call_id, "' is offered to '",
                                                      agents_[call.agent].id, "', not '",
                                                      agent_id, "'"));
  }
  return *slot;
}

absl::Status Router::OfferAccepted(absl::string_view call_id, absl::string_view agent_id,
                                   absl::Time now) {
  Advance(now);
  absl::StatusOr<CallSlot> slot = OfferedCall(call_id, agent_id);
  if (!slot.ok()) return slot.status();
  Call& call = calls_[*slot];
  Agent& agent = agents_[call.agent];
  const AgentSlot agent_slot = call.agent;
  // Only a caller who waited in line teaches the queue its waits: a callback customer was not on
  // the line, and a consulted caller was talking to the first agent.
  if (!call.callback && call.consulting_agent == kNoSlot) {
    stats_[call.queue].wait.Served(now_ - call.entered_queue, now_);
  }
  if (call.on_hold) EndHoldNow(*slot);  // a consult completes: the caller is with the new agent
  const AgentSlot consulting = call.consulting_agent != kNoSlot ? LetGoOfConsult(*slot) : kNoSlot;
  call.state = CallState::kConnected;
  CancelCallTimers(*slot);
  agent.offered_call = kNoSlot;
  agent.load[static_cast<int>(call.channel)]++;
  agent.calls.push_back(*slot);
  agent.handled++;
  call.connected_at = now_;
  agent.missed_in_a_row = 0;
  if (consulting != kNoSlot) {
    Emit({.kind = Decision::Kind::kTransferCompleted, .call_id = call.id, .agent_id = agent.id,
          .queue = policy_->queues[call.queue].name, .from_agent = agents_[consulting].id});
  }
  Index(agent_slot);  // a chat agent may still have room
  TryServeAgent(agent_slot);
  if (consulting != kNoSlot) {
    Index(consulting);
    TryServeAgent(consulting);
  }
  return absl::OkStatus();
}

absl::Status Router::OfferRejected(absl::string_view call_id, absl::string_view agent_id,
                                   absl::Time now) {
  Advance(now);
  absl::StatusOr<CallSlot> slot = OfferedCall(call_id, agent_id);
  if (!slot.ok()) return slot.status();
  FailOffer(*slot, /*rejected=*/true, /*cancel_at_switch=*/false);
  return absl::OkStatus();
}

absl::Status Router::OfferNotAnswered(absl::string_view call_id, absl::string_view agent_id,
                                      absl::Time now) {
  Advance(now);
  absl::StatusOr<CallSlot> slot = OfferedCall(call_id, agent_id);
  if (!slot.ok()) return slot.status();
  FailOffer(*slot, /*rejected=*/false, /*cancel_at_switch=*/false);
  return absl::OkStatus();
}

// The agent missed the offer: it counts against them, they may cool down or go not_ready, and the
// call goes back to its place to be tried with the next eligible agent.
void Router::FailOffer(CallSlot slot, bool rejected, bool cancel_at_switch) {
  Call& call = calls_[slot];
  const AgentSlot agent_slot = call.agent;
  Agent& agent = agents_[agent_slot];
  CancelCallTimer(slot, TimerKind::kOfferTimeout);
  if (cancel_at_switch) {
    Emit({.kind = Decision::Kind::kCancelOffer, .call_id = call.id, .agent_id = agent.id,
          .queue = policy_->queues[call.queue].name, .reason = "no_answer"});
  }
  agent.offered_call = kNoSlot;
  agent.missed_in_a_row++;
  const AgentRules& rules = policy_->agent_rules;
  if (rules.max_missed_offers > 0 && agent.missed_in_a_row >= rules.max_missed_offers) {
    CountServers(agent, -1);
    agent.ready = false;
    agent.not_ready_reason = "missed_offers";
    Emit({.kind = Decision::Kind::kAgentMadeNotReady, .agent_id = agent.id,
          .reason = "missed_offers"});
  } else {
    const absl::Duration delay = rejected ? rules.reject_delay : rules.no_answer_delay;
    if (delay > absl::ZeroDuration()) SetUnavailableUntil(agent_slot, now_ + delay, false);
  }
  ReturnToQueue(slot);
  Index(agent_slot);
  TryServeAgent(agent_slot);
}

// Back to the call's own place (its key is unchanged), catching up on steps that fell due meanwhile.
void Router::ReturnToQueue(CallSlot slot) {
  InsertWaiting(slot);
  ApplyDueSteps(slot);
  TryRouteCall(slot);
  // Still in line (not sent on, not offered again): the caller hears the queue again.
  if (!calls_[slot].id.empty() && calls_[slot].state == CallState::kWaiting) ResumePrompts(slot);
}

void Router::ReleaseAgentFromOffer(AgentSlot agent_slot) {
  agents_[agent_slot].offered_call = kNoSlot;
  Index(agent_slot);
  TryServeAgent(agent_slot);
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

absl::Status Router::Abandon(absl::string_view call_id, absl::Time now) {
  Advance(now);
  absl::StatusOr<CallSlot> slot = CallFor(call_id);
  if (!slot.ok()) return slot.status();
  Call& call = calls_[*slot];
  if (call.consulting_agent != kNoSlot) {
    // The caller was still with the consulting agent: the whole call ends.
    EndConsultCall(*slot, "abandoned");
    return absl::OkStatus();
  }
  // A caller who gives up in line teaches the queue its callers' patience (a callback customer
  // was not on the line).
  if ((call.state == CallState::kWaiting || call.state == CallState::kOffered) && !call.callback) {
    stats_[call.queue].wait.Abandoned(now_ - call.entered_queue, now_);
  }
  switch (call.state) {
    case CallState::kWaiting:
      EraseWaiting(*slot);
      FreeCall(*slot);
      return absl::OkStatus();
    case CallState::kCallbackPending:  // the customer cancelled the callback
      FreeCall(*slot);
      return absl::OkStatus();
    case CallState::kOffered: {
      const AgentSlot agent = call.agent;
      Emit({.kind = Decision::Kind::kCancelOffer, .call_id = call.id,
            .agent_id = agents_[agent].id, .queue = policy_->queues[call.queue].name,
            .reason = "abandoned"});
      FreeCall(*slot);
      ReleaseAgentFromOffer(agent);
      return absl::OkStatus();
    }
    case CallState::kConnected:
      return EndCall(call_id, now);
  }
  return absl::OkStatus();
}

absl::Status Router::EndCall(absl::string_view call_id, absl::Time now) {
  Advance(now);
  absl::StatusOr<CallSlot> slot = CallFor(call_id);
  if (!slot.ok()) return slot.status();
  Call& call = calls_[*slot];
  if (call.consulting_agent != kNoSlot) {
    EndConsultCall(*slot, "call_ended");  // the consulting agent hung up with the caller
    return absl::OkStatus();
  }
  if (call.state != CallState::kConnected) {
    return absl::FailedPreconditionError(absl::StrCat(
        "call '", call_id, "' is not connected to an agent; a caller who hangs up while waiting "
        "or ringing is an abandon"));
  }
  const AgentSlot agent_slot = call.agent;
  stats_[call.queue].wait.HandleEnded(now_ - call.connected_at, now_);
  LetGoOfCall(*slot);
  FreeCall(*slot);
  Index(agent_slot);
  TryServeAgent(agent_slot);
  return absl::OkStatus();
}

void Router::LetGoOfCall(CallSlot slot) {
  Call& call = calls_[slot];
  ReleaseAgent(call.agent, slot, policy_->queues[call.queue].wrap_up);
  call.agent = kNoSlot;
}

// `agent` is done with `call` (its load drops) and wraps up for `wrap_up`; the caller re-indexes
// the agent once the call has found its next place.
void Router::ReleaseAgent(AgentSlot agent_slot, CallSlot slot, absl::Duration wrap_up) {
  Agent& agent = agents_[agent_slot];
  Unindex(agent_slot);
  agent.load[static_cast<int>(calls_[slot].channel)]--;
  agent.calls.erase(std::find(agent.calls.begin(), agent.calls.end(), slot));
  const bool free_now = agent.load == std::array<uint32_t, kChannelCount>{};
  if (wrap_up > absl::ZeroDuration()) {
    SetUnavailableUntil(agent_slot, now_ + wrap_up, /*wrap_up=*/true);
  } else if (free_now && now_ >= agent.unavailable_until) {
    agent.idle_since = now_;
  }
}

// Checks that `agent_id` may transfer `call_id` to `target` and says where the call goes.
absl::StatusOr<Router::TransferPlan> Router::PlanTransfer(absl::string_view call_id,
                                                          absl::string_view agent_id,
                                                          const TransferTarget& target) const {
  absl::StatusOr<CallSlot> slot = CallFor(call_id);
  if (!slot.ok()) return slot.status();
  const Call& call = calls_[*slot];
  if (call.state != CallState::kConnected || agents_[call.agent].id != agent_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "call '", call_id, "' is not connected to agent '", agent_id, "'; only the agent on the "
        "call can transfer it"));
  }
  if (target.queue.empty() == target.agent_id.empty()) {
    return absl::InvalidArgumentError("transfer: name either a queue or an agent");
  }
  TransferPlan plan{.call = *slot, .queue = call.queue};
  if (!target.queue.empty()) {
    std::optional<QueueId> q = policy_->FindQueue(target.queue);
    if (!q) return absl::NotFoundError(absl::StrCat("queue '", target.queue, "' does not exist"));
    if (policy_->queues[*q].channel != call.channel) {
      return absl::InvalidArgumentError(absl::StrCat(
          "queue '", target.queue, "' serves ", ChannelName(policy_->queues[*q].channel),
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
      return absl::FailedPreconditionError(absl::StrCat(
          "agent '", target.agent_id, "' does not serve queue '", policy_->queues[call.queue].name,
          "' for this call; transfer to a queue they serve"));
    }
    plan.agent = *a;
  }
  const CompiledQueue& from = policy_->queues[call.queue];
  if (call.transfers >= from.max_transfers && from.fallback.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "call '", call_id, "' has been transferred ", call.transfers, " times, queue '", from.name,
        "''s limit, and the queue has no fallback"));
  }
  return plan;
}

// Past its queue's transfer limit a call goes to the fallback, and its agent lets go of it.
void Router::SendTransferToFallback(CallSlot slot, AgentSlot from_agent) {
  Call& call = calls_[slot];
  const CompiledQueue& from = policy_->queues[call.queue];
  LetGoOfCall(slot);
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
    call.preferred_slot = kNoSlot;  // the preferred agent is the one who sent it on
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
  if (queue.max_queue_length > 0 && waiting_[call.queue].size() > queue.max_queue_length) {
    SendToFallback(slot, queue.fallback, "queue_full");  // a transfer obeys the queue's limit
    return {EnqueueResult::Disposition::kSentToFallback, 0, queue.fallback};
  }
  const int position = Position(slot);
  const std::optional<absl::Duration> expected_wait = ExpectedWait(call.queue, position);
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
        "call '", call_id, "' is not in a consult transfer by agent '", agent_id, "'"));
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
  call.preferred_slot = kNoSlot;
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
  ReleaseAgent(agent, slot, call.consult_wrap_up);
  call.consulting_agent = kNoSlot;
  return agent;
}

// The caller or the consulting agent hung up during a consult: the whole call ends, a ringing
// offer is withdrawn, and the consulting agent's talk counts as the call's handle time (in
// LetGoOfConsult).
void Router::EndConsultCall(CallSlot slot, const char* reason) {
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

// ---------------------------------------------------------------------------------------------
// What the caller hears in line: a greeting on entry, then updates every update_interval.

Router::PromptRules Router::PromptRulesOf(QueueId queue) const {
  const acd::v1::Prompts& p = policy_->queues[queue].source.prompts();
  PromptRules rules;
  rules.update_interval = absl::Seconds(p.update_interval_seconds() > 0 ? p.update_interval_seconds() : 45);
  rules.min_spacing = absl::Seconds(p.min_spacing_seconds() > 0 ? p.min_spacing_seconds() : 20);
  rules.announce_position = !p.has_announce_position() || p.announce_position();
  rules.announce_ewt = !p.has_announce_ewt() || p.announce_ewt();
  rules.ewt_rounding = absl::Seconds(p.ewt_rounding_seconds() > 0 ? p.ewt_rounding_seconds() : 60);
  rules.ewt_cap = absl::Seconds(p.ewt_cap_seconds() > 0 ? p.ewt_cap_seconds() : 1200);
  return rules;
}

Router::HoldRules Router::HoldRulesOf(QueueId queue) const {
  const acd::v1::Holds& h = policy_->queues[queue].source.holds();
  return HoldRules{
      .reminder_interval = absl::Seconds(
          h.reminder_interval_seconds() > 0 ? h.reminder_interval_seconds() : 45),
      .max = absl::Seconds(h.max_seconds() > 0 ? h.max_seconds() : 300)};
}

Router::CallbackRules Router::CallbackRulesOf(QueueId queue) const {
  const acd::v1::Callbacks& c = policy_->queues[queue].source.callbacks();
  return CallbackRules{
      .offer_over = absl::Seconds(std::max(0.0, c.offer_when_ewt_over_seconds())),
      .max_attempts = c.max_attempts() > 0 ? static_cast<int>(c.max_attempts()) : 3,
      .retry_interval = absl::Seconds(
          c.retry_interval_seconds() > 0 ? c.retry_interval_seconds() : 600)};
}

// Only a caller alone in line hears the queue: not while ringing an agent, not a callback
// customer (off the line), not a caller still talking to the agent who consults.
bool Router::HearsPrompts(const Call& call) const {
  return call.state == CallState::kWaiting && !call.callback &&
         call.consulting_agent == kNoSlot;
}

// Within min_spacing of the last prompt nothing more is said: the prompt is put off until the
// spacing allows (as an update). Returns true when it was put off.
bool Router::TooSoonToPrompt(CallSlot slot) {
  const Call& call = calls_[slot];
  const absl::Time allowed = call.last_prompt_at + PromptRulesOf(call.queue).min_spacing;
  if (now_ >= allowed) return false;
  ScheduleCallTimer(slot, TimerKind::kPromptDue, allowed);
  return true;
}

// A caller who has just joined the line hears at once where they stand.
void Router::GreetInLine(CallSlot slot, int position, std::optional<absl::Duration> expected_wait) {
  if (TooSoonToPrompt(slot)) return;
  Announce(slot, Decision::PromptKind::kEntry, position, expected_wait);
}

// The update prompt that falls due while the caller waits in line (or the greeting they missed).
void Router::PromptInLine(CallSlot slot) {
  if (TooSoonToPrompt(slot)) return;
  Call& call = calls_[slot];
  const int position = Position(slot);
  const std::optional<absl::Duration> expected_wait = ExpectedWait(call.queue, position);
  if (call.last_prompt_at == absl::InfinitePast()) {
    Announce(slot, Decision::PromptKind::kEntry, position, expected_wait);
    return;
  }
  const PromptRules rules = PromptRulesOf(call.queue);
  if (position == 1 && expected_wait && *expected_wait < rules.min_spacing) {
    // The caller at the head is about to be served: an update would talk over the agent.
    ScheduleCallTimer(slot, TimerKind::kPromptDue, now_ + rules.update_interval);
    return;
  }
  Announce(slot, Decision::PromptKind::kUpdate, position, expected_wait);
}

// Plays `kind` with what the queue's rules let the caller hear: the position only when it is
// better than the last one said, the wait rounded up (or "more than" the cap). A long wait brings
// a callback offer right after, once per queue. The next update falls due an interval later.
void Router::Announce(CallSlot slot, Decision::PromptKind kind, int position,
                      std::optional<absl::Duration> expected_wait) {
  Call& call = calls_[slot];
  const PromptRules rules = PromptRulesOf(call.queue);
  const std::string& queue = policy_->queues[call.queue].name;
  Decision prompt{.kind = Decision::Kind::kPlayPrompt, .call_id = call.id, .queue = queue,
                  .prompt = kind};
  if (rules.announce_position &&
      (call.announced_position == 0 || position < call.announced_position)) {
    prompt.position = position;
    call.announced_position = position;
  }
  if (rules.announce_ewt && expected_wait) {
    if (*expected_wait > rules.ewt_cap) {
      prompt.expected_wait = rules.ewt_cap;
      prompt.wait_over_cap = true;
    } else {
      const absl::Duration rounded = std::max(
          rules.ewt_rounding, absl::Ceil(*expected_wait, rules.ewt_rounding));
      prompt.expected_wait = std::min(rounded, rules.ewt_cap);
    }
  }
  const std::optional<absl::Duration> said = prompt.expected_wait;
  const bool over_cap = prompt.wait_over_cap;
  EmitPrompt(slot, std::move(prompt));
  const CallbackRules callbacks = CallbackRulesOf(call.queue);
  if (callbacks.offer_over > absl::ZeroDuration() && expected_wait &&
      *expected_wait > callbacks.offer_over &&
      std::find(call.callback_offered_in.begin(), call.callback_offered_in.end(), queue) ==
          call.callback_offered_in.end()) {
    call.callback_offered_in.push_back(queue);
    EmitPrompt(slot, {.kind = Decision::Kind::kPlayPrompt, .call_id = call.id, .queue = queue,
                      .prompt = Decision::PromptKind::kCallbackOffer, .expected_wait = said,
                      .wait_over_cap = over_cap});
  }
  ScheduleCallTimer(slot, TimerKind::kPromptDue, now_ + rules.update_interval);
}

// Every prompt to a caller goes out here, counted for the call and its queue.
void Router::EmitPrompt(CallSlot slot, Decision decision) {
  Call& call = calls_[slot];
  call.last_prompt_at = now_;
  call.prompts_played++;
  stats_[call.queue].prompts_played[static_cast<int>(decision.prompt)]++;
  Emit(std::move(decision));
}

// The caller is back in line after ringing an agent: the update due meanwhile plays now (the
// greeting, if they never had one), else the cadence goes on from the last prompt.
void Router::ResumePrompts(CallSlot slot) {
  const Call& call = calls_[slot];
  if (!HearsPrompts(call)) return;
  if (call.last_prompt_at + PromptRulesOf(call.queue).update_interval <= now_) {
    PromptInLine(slot);
  } else {
    SchedulePrompt(slot);
  }
}

// (Re)schedules the next update from the last prompt at the queue's interval (after an overflow or
// a reload); what is already due runs at the next timer run.
void Router::SchedulePrompt(CallSlot slot) {
  const Call& call = calls_[slot];
  if (!HearsPrompts(call)) {
    CancelCallTimer(slot, TimerKind::kPromptDue);
    return;
  }
  const absl::Time due = call.last_prompt_at + PromptRulesOf(call.queue).update_interval;
  ScheduleCallTimer(slot, TimerKind::kPromptDue, std::max(due, now_));
}

// ---------------------------------------------------------------------------------------------
// Holds.

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
    return absl::FailedPreconditionError(absl::StrCat(
        "call '", call_id, "' is not connected to an agent; only a connected call can be held"));
  }
  if (call.on_hold) {
    return absl::FailedPreconditionError(absl::StrCat("call '", call_id, "' is already on hold"));
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
    return absl::FailedPreconditionError(absl::StrCat("call '", call_id, "' is not on hold"));
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
  const HoldRules rules = HoldRulesOf(call.queue);
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
        .agent_id = agents_[HoldingAgent(call)].id, .queue = queue, .held = held});
  call.hold_reminded = now_;
  ScheduleHoldTimers(slot);
}

// Flags, once each, the hold passing what the caller was told and the queue's maximum.
void Router::FlagHoldOverruns(CallSlot slot) {
  Call& call = calls_[slot];
  const absl::Duration held = now_ - call.hold_started;
  const absl::Duration max = HoldRulesOf(call.queue).max;
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
  call.hold_time += now_ - call.hold_started;
  call.on_hold = false;
  CancelCallTimer(slot, TimerKind::kHoldReminder);
  CancelCallTimer(slot, TimerKind::kHoldOverrun);
}

// ---------------------------------------------------------------------------------------------
// Callbacks.

absl::Status Router::AcceptCallback(absl::string_view call_id, absl::Time now) {
  Advance(now);
  absl::StatusOr<CallSlot> slot = CallFor(call_id);
  if (!slot.ok()) return slot.status();
  Call& call = calls_[*slot];
  if (call.callback) return absl::OkStatus();  // a retry of the same answer
  if (call.state != CallState::kWaiting || call.consulting_agent != kNoSlot) {
    return absl::FailedPreconditionError(absl::StrCat(
        "call '", call_id, "' is not waiting in line; only a waiting caller can take a callback"));
  }
  const std::string& queue = policy_->queues[call.queue].name;
  if (CallbackRulesOf(call.queue).offer_over <= absl::ZeroDuration()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "queue '", queue, "' offers no callbacks (callbacks.offer_when_ewt_over_seconds is 0)"));
  }
  // Same key, same place; no more prompts, and no wait limit sends a callback away.
  stats_[call.queue].wait.LeftLine(now_ - call.entered_queue, now_);  // patient until now
  call.callback = true;
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
        "call '", call_id, "' is not a callback connected to agent '", agent_id, "'"));
  }
  if (call.on_hold) EndHoldNow(*slot);
  // Nobody answered: no talk to wrap up and nothing the agent missed.
  const AgentSlot agent = call.agent;
  ReleaseAgent(agent, *slot, absl::ZeroDuration());
  call.agent = kNoSlot;
  call.callback_attempts++;
  const CallbackRules rules = CallbackRulesOf(call.queue);
  if (call.callback_attempts >= rules.max_attempts) {
    stats_[call.queue].callbacks_gave_up++;
    Emit({.kind = Decision::Kind::kCallbackGaveUp, .call_id = call.id,
          .queue = policy_->queues[call.queue].name, .attempt = call.callback_attempts});
    FreeCall(*slot);
  } else {
    call.state = CallState::kCallbackPending;  // out of the line until the retry
    // The preferred agent has had its turn; the retry goes to whoever is free then (its window
    // timer was cancelled when the offer was accepted).
    call.preferred_slot = kNoSlot;
    call.preferred_until = absl::InfinitePast();
    ScheduleCallTimer(*slot, TimerKind::kCallbackRetry, now_ + rules.retry_interval);
  }
  Index(agent);
  TryServeAgent(agent);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Agents.

absl::StatusOr<AgentSlot> Router::AgentFor(absl::string_view agent_id) const {
  if (absl::Status s = CheckId(agent_id, "agent_id"); !s.ok()) return s;
  auto it = agent_ids_.find(agent_id);
  if (it == agent_ids_.end()) {
    return absl::FailedPreconditionError(absl::StrCat("agent '", agent_id, "' is not logged in"));
  }
  return it->second;
}

absl::Status Router::Login(const AgentSpec& spec, absl::Time now) {
  Advance(now);
  if (absl::Status s = CheckId(spec.agent_id, "agent_id"); !s.ok()) return s;
  if (agent_ids_.contains(spec.agent_id)) {
    return absl::AlreadyExistsError(absl::StrCat("agent '", spec.agent_id, "' is logged in"));
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
          absl::StrCat("agent '", spec.agent_id, "': unknown queue '", name, "'"));
    }
  }
  if (spec.capacity.empty()) {
    agent.capacity[static_cast<int>(Channel::kVoice)] = 1;
  }
  for (const auto& [channel, count] : spec.capacity) {
    const uint32_t max = policy_->agent_rules.max_capacity[static_cast<int>(channel)];
    if (count > max) {
      return absl::InvalidArgumentError(
          absl::StrCat("agent '", spec.agent_id, "': capacity ", count, " for ",
                       ChannelName(channel), " exceeds the policy's maximum of ", max));
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
  agent_ids_.emplace(spec.agent_id, slot);
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
        absl::StrCat("agent '", agent_id, "' has ", agent.calls.size(),
                     " call(s) in progress; end them before logging out"));
  }
  Unindex(*slot);
  // Calls waiting for this agent as their preferred one need not wait any longer.
  std::vector<CallSlot> to_reroute;
  for (QueueId q : agent.queues) {
    waiting_[q].ForEach([&](const WaitingKey& key) {
      if (calls_[key.slot].preferred_slot == *slot) {
        calls_[key.slot].preferred_slot = kNoSlot;
        to_reroute.push_back(key.slot);
      }
    });
    auto& list = members_[q];
    list.erase(std::remove(list.begin(), list.end(), *slot), list.end());
  }
  const CallSlot offered = agent.offered_call;
  CountServers(agent, -1);
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
    calls_[offered].preferred_slot = kNoSlot;
    ReturnToQueue(offered);
  }
  for (CallSlot call : to_reroute) TryRouteCall(call);
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
  return absl::OkStatus();
}

absl::Status Router::EndWrapUp(absl::string_view agent_id, absl::Time now) {
  Advance(now);
  absl::StatusOr<AgentSlot> slot = AgentFor(agent_id);
  if (!slot.ok()) return slot.status();
  Agent& agent = agents_[*slot];
  if (!agent.wrapping_up || now_ >= agent.unavailable_until) {
    return absl::FailedPreconditionError(absl::StrCat("agent '", agent_id, "' is not in wrap-up"));
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

// ---------------------------------------------------------------------------------------------
// Policy reload.

absl::Status Router::CanReplacePolicy(const CompiledPolicy& policy) const {
  // Refuse, changing nothing, if live calls depend on something the new policy drops.
  std::vector<std::string> missing;
  for (const auto& [id, slot] : call_ids_) {
    const Call& call = calls_[slot];
    const std::string& queue = policy_->queues[call.queue].name;
    if (!policy.FindQueue(queue)) {
      missing.push_back(absl::StrCat("queue '", queue, "' (call '", id, "')"));
      continue;
    }
    if (policy.queues[*policy.FindQueue(queue)].channel != call.channel) {
      missing.push_back(absl::StrCat("the channel of queue '", queue, "' (call '", id, "')"));
    }
    for (const NamedSkill& s : call.extra_skill_names) {
      if (!policy.FindSkill(s.skill)) {
        missing.push_back(absl::StrCat("skill '", s.skill, "' (call '", id, "')"));
      }
    }
    if (!call.language.empty() && !policy.language_bits.contains(call.language)) {
      missing.push_back(absl::StrCat("language '", call.language, "' (call '", id, "')"));
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
  waiting_.assign(queues, {});
  available_.assign(queues, {});
  members_.assign(queues, {});
  round_robin_last_.assign(queues, 0);
  servers_.assign(queues, 0);  // recounted as membership is
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
    if (call.held_for != kNoSlot && now_ < call.held_until && agent_live_[call.held_for] &&
        agents_[call.held_for].login_seq == call.held_for_login) {
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

// ---------------------------------------------------------------------------------------------
// Views.

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
  const Call& call = calls_[it->second];
  CallView view;
  view.call_id = call.id;
  view.queue = policy_->queues[call.queue].name;
  view.state = call.state;
  view.position = call.state == CallState::kWaiting ? Position(it->second) : 0;
  if (call.agent != kNoSlot) view.agent_id = agents_[call.agent].id;
  view.arrived = call.arrived;
  view.entered_queue = call.entered_queue;
  view.priority = EffectivePriority(call);
  view.escalation_steps_fired = call.next_step;
  view.transfers = call.transfers;
  if (call.state == CallState::kWaiting) view.expected_wait = ExpectedWait(call.queue, view.position);
  view.on_hold = call.on_hold;
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
  return ExpectedWait(calls_[it->second].queue, Position(it->second));
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
  if (!id) return absl::NotFoundError(absl::StrCat("queue '", queue, "' does not exist"));
  QueueView view;
  view.queue = std::string(queue);
  view.calls_waiting = static_cast<int>(waiting_[*id].size());
  waiting_[*id].ForEach([&](const WaitingKey& key) {
    const absl::Time arrived = calls_[key.slot].arrived;
    if (!view.oldest_arrival || arrived < *view.oldest_arrival) view.oldest_arrival = arrived;
    view.callbacks_waiting += calls_[key.slot].callback;
  });
  for (AgentSlot a : members_[*id]) view.agents_by_state[static_cast<int>(StateOf(agents_[a]))]++;
  view.staffed_agents = StaffedAgents(*id);
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
  view.expected_wait_for_new_call =
      available_[*id].empty() ? ExpectedWait(*id, view.calls_waiting + 1)
                              : std::optional<absl::Duration>(absl::ZeroDuration());
  return view;
}

}  // namespace acd::routing
