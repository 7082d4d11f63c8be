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
  handle_time_.assign(queues, {});
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

bool Router::Avoids(const Call& call, AgentSlot agent) const {
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
        Eligible(call, preferred)) {
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

void Router::ComputeMembership(AgentSlot slot) {
  Agent& agent = agents_[slot];
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
  return EnqueueResult{EnqueueResult::Disposition::kQueued, position, "",
                       ExpectedWait(*queue_id, position)};
}

int Router::StaffedAgents(QueueId queue) const {
  int staffed = 0;
  for (AgentSlot a : members_[queue]) staffed += agents_[a].ready;
  return staffed;
}

std::optional<absl::Duration> Router::ExpectedWait(QueueId queue, int position) const {
  // How many of the queue's calls its staffed agents hold at once (three chats each, say).
  const int channel = static_cast<int>(policy_->queues[queue].channel);
  int servers = 0;
  for (AgentSlot a : members_[queue]) {
    if (agents_[a].ready) servers += static_cast<int>(agents_[a].capacity[channel]);
  }
  if (servers == 0) return std::nullopt;  // nobody to serve it: no honest number
  const HandleTime& learned = handle_time_[queue];
  if (learned.calls > 0) {
    const double handle = learned.mean_seconds +
                          absl::ToDoubleSeconds(policy_->queues[queue].wrap_up);
    return absl::Seconds(position * handle / servers);
  }
  // No call has ended here yet: the wait of the longest waiter so far (head of line).
  std::optional<absl::Time> oldest;
  waiting_[queue].ForEach([&](const WaitingKey& key) {
    const absl::Time entered = calls_[key.slot].entered_queue;
    if (!oldest || entered < *oldest) oldest = entered;
  });
  if (!oldest || *oldest == now_) return std::nullopt;  // only the caller itself: nothing known
  return now_ - *oldest;
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
  if (queue.max_wait != absl::InfiniteDuration()) {
    ScheduleCallTimer(slot, TimerKind::kMaxWait, entered + queue.max_wait);
  }
  CancelCallTimer(slot, TimerKind::kPreferredAgentEnd);
  call.preferred_slot = kNoSlot;
  call.preferred_until = absl::InfinitePast();
  if (!call.preferred_agent.empty() && entered + queue.preferred_agent_timeout > now_) {
    auto it = agent_ids_.find(call.preferred_agent);
    if (it != agent_ids_.end() && IsMember(agents_[it->second], call.queue) &&
        Eligible(call, agents_[it->second])) {
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
    if (max_wait_at <= now_ && max_wait_at <= step_at) {
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
      EraseWaiting(slot);
      call.queue = step.overflow_queue;
      StartQueueStint(slot, due);  // the new queue's clock starts when the step fell due
      InsertWaiting(slot);
      Emit({.kind = Decision::Kind::kCallOverflowed, .call_id = call.id,
            .queue = policy_->queues[call.queue].name, .from_queue = from});
      ApplyDueSteps(slot);  // catches up in the new queue when the step was applied late
      TryRouteCall(slot);
      return false;
    }
    case EscalationStep::Action::kFallback:
      SendToFallback(slot, step.fallback_target, "escalation");
      return false;
  }
  return true;
}

void Router::SendToFallback(CallSlot slot, const std::string& target, const char* reason) {
  Call& call = calls_[slot];
  if (call.state != CallState::kWaiting) Crash("fallback of a call that is not waiting");
  EraseWaiting(slot);
  Emit({.kind = Decision::Kind::kSendToFallback, .call_id = call.id,
        .queue = policy_->queues[call.queue].name, .target = target, .reason = reason});
  FreeCall(slot);
}

void Router::FreeCall(CallSlot slot) {
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
  call.state = CallState::kConnected;
  CancelCallTimers(*slot);
  agent.offered_call = kNoSlot;
  agent.load[static_cast<int>(call.channel)]++;
  agent.calls.push_back(*slot);
  agent.handled++;
  call.connected_at = now_;
  agent.missed_in_a_row = 0;
  Index(agent_slot);  // a chat agent may still have room
  TryServeAgent(agent_slot);
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
  switch (call.state) {
    case CallState::kWaiting:
      EraseWaiting(*slot);
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
  if (call.state != CallState::kConnected) {
    return absl::FailedPreconditionError(absl::StrCat(
        "call '", call_id, "' is not connected to an agent; a caller who hangs up while waiting "
        "or ringing is an abandon"));
  }
  const AgentSlot agent_slot = call.agent;
  // Learn the queue's handle time: this call's talk time plus the queue's wrap-up. A moving
  // average over roughly the last 100 calls follows changes in the work without jumping.
  HandleTime& learned = handle_time_[call.queue];
  const double handled = absl::ToDoubleSeconds(now_ - call.connected_at);
  learned.calls++;
  const double weight = std::max(1.0 / learned.calls, 0.01);
  learned.mean_seconds += weight * (handled - learned.mean_seconds);
  LetGoOfCall(*slot);
  FreeCall(*slot);
  Index(agent_slot);
  TryServeAgent(agent_slot);
  return absl::OkStatus();
}

void Router::LetGoOfCall(CallSlot slot) {
  Call& call = calls_[slot];
  const AgentSlot agent_slot = call.agent;
  Agent& agent = agents_[agent_slot];
  const CompiledQueue& queue = policy_->queues[call.queue];
  Unindex(agent_slot);
  agent.load[static_cast<int>(call.channel)]--;
  agent.calls.erase(std::find(agent.calls.begin(), agent.calls.end(), slot));
  const bool free_now = agent.load == std::array<uint32_t, kChannelCount>{};
  if (queue.wrap_up > absl::ZeroDuration()) {
    SetUnavailableUntil(agent_slot, now_ + queue.wrap_up, /*wrap_up=*/true);
  } else if (free_now && now_ >= agent.unavailable_until) {
    agent.idle_since = now_;
  }
  call.agent = kNoSlot;
}

absl::StatusOr<EnqueueResult> Router::Transfer(absl::string_view call_id,
                                               absl::string_view agent_id,
                                               const TransferTarget& target, absl::Time now) {
  Advance(now);
  absl::StatusOr<CallSlot> slot = CallFor(call_id);
  if (!slot.ok()) return slot.status();
  Call& call = calls_[*slot];
  if (call.state != CallState::kConnected || agents_[call.agent].id != agent_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "call '", call_id, "' is not connected to agent '", agent_id, "'; only the agent on the "
        "call can transfer it"));
  }
  if (target.queue.empty() == target.agent_id.empty()) {
    return absl::InvalidArgumentError("transfer: name either a queue or an agent");
  }
  QueueId to_queue = call.queue;
  AgentSlot to_agent = kNoSlot;
  if (!target.queue.empty()) {
    std::optional<QueueId> q = policy_->FindQueue(target.queue);
    if (!q) return absl::NotFoundError(absl::StrCat("queue '", target.queue, "' does not exist"));
    if (policy_->queues[*q].channel != call.channel) {
      return absl::InvalidArgumentError(absl::StrCat(
          "queue '", target.queue, "' serves ", ChannelName(policy_->queues[*q].channel),
          ", not this ", ChannelName(call.channel), " call"));
    }
    to_queue = *q;
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
    to_agent = *a;
  }
  const CompiledQueue& from = policy_->queues[call.queue];
  if (call.transfers >= from.max_transfers && from.fallback.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "call '", call_id, "' has been transferred ", call.transfers, " times, queue '", from.name,
        "''s limit, and the queue has no fallback"));
  }
  const AgentSlot from_agent = call.agent;
  LetGoOfCall(*slot);  // the agent is not indexed again until the call has found its next place
  call.transfers++;
  EnqueueResult result;
  if (call.transfers > from.max_transfers) {
    Emit({.kind = Decision::Kind::kSendToFallback, .call_id = call.id, .queue = from.name,
          .target = from.fallback, .reason = "too_many_transfers"});
    FreeCall(*slot);
    result = {EnqueueResult::Disposition::kSentToFallback, 0, from.fallback};
  } else {
    const CompiledQueue& queue = policy_->queues[to_queue];
    call.queue = to_queue;
    call.transfer_boost = queue.transfer_priority_boost;
    StartQueueStint(*slot, now_);
    call.transferred_from = from_agent;
    call.transferred_from_login = agents_[from_agent].login_seq;
    call.avoid_until = now_ + queue.transfer_agent_wait;
    ScheduleCallTimer(*slot, TimerKind::kAvoidEnd, call.avoid_until);
    call.held_for = kNoSlot;
    if (to_agent != kNoSlot) {
      call.held_for = to_agent;
      call.held_for_login = agents_[to_agent].login_seq;
      call.held_until = now_ + queue.transfer_agent_wait;
      HoldForAgent(*slot, to_agent, call.held_until);
    } else if (call.preferred_slot == from_agent) {
      call.preferred_slot = kNoSlot;  // the preferred agent is the one who sent it on
      CancelCallTimer(*slot, TimerKind::kPreferredAgentEnd);
    }
    InsertWaiting(*slot);
    TryRouteCall(*slot);
    if (calls_[*slot].state == CallState::kOffered) {
      result = {EnqueueResult::Disposition::kOffered, 0, ""};
    } else if (queue.max_queue_length > 0 && waiting_[to_queue].size() > queue.max_queue_length) {
      SendToFallback(*slot, queue.fallback, "queue_full");  // a transfer obeys the queue's limit
      result = {EnqueueResult::Disposition::kSentToFallback, 0, queue.fallback};
    } else {
      const int position = Position(*slot);
      result = {EnqueueResult::Disposition::kQueued, position, "", ExpectedWait(to_queue, position)};
    }
  }
  Index(from_agent);
  TryServeAgent(from_agent);
  return result;
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

  // Map live calls to the new policy's queue ids before swapping.
  std::vector<std::pair<CallSlot, QueueId>> live;
  for (const auto& [id, slot] : call_ids_) {
    live.emplace_back(slot, *policy->FindQueue(policy_->queues[calls_[slot].queue].name));
  }
  std::sort(live.begin(), live.end());
  for (AgentSlot a = 0; a < agents_.size(); ++a) {
    if (agent_live_[a]) Unindex(a);
  }
  // What was learned about each queue's handle time stays with the queue's name.
  absl::flat_hash_map<std::string, HandleTime> learned;
  for (const CompiledQueue& q : policy_->queues) learned[q.name] = handle_time_[q.id];
  policy_ = std::move(policy);
  const size_t queues = policy_->queues.size();
  waiting_.assign(queues, {});
  available_.assign(queues, {});
  members_.assign(queues, {});
  round_robin_last_.assign(queues, 0);
  handle_time_.assign(queues, {});
  for (const CompiledQueue& q : policy_->queues) {
    if (auto it = learned.find(q.name); it != learned.end()) handle_time_[q.id] = it->second;
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
  for (const auto& [slot, queue] : live) {
    Call& call = calls_[slot];
    if (call.state == CallState::kConnected) continue;
    StartQueueStint(slot, call.entered_queue);
    if (call.held_for != kNoSlot && now_ < call.held_until && agent_live_[call.held_for] &&
        agents_[call.held_for].login_seq == call.held_for_login) {
      HoldForAgent(slot, call.held_for, call.held_until);  // a transfer's hold outlives a reload
    }
    if (call.state == CallState::kWaiting) InsertWaiting(slot);
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
  });
  for (AgentSlot a : members_[*id]) view.agents_by_state[static_cast<int>(StateOf(agents_[a]))]++;
  view.staffed_agents = StaffedAgents(*id);
  view.mean_handle_seconds =
      handle_time_[*id].calls > 0
          ? handle_time_[*id].mean_seconds + absl::ToDoubleSeconds(policy_->queues[*id].wrap_up)
          : 0;
  // An agent free now takes a new caller at once (any agent of the queue fits a plain call).
  view.expected_wait_for_new_call =
      available_[*id].empty() ? ExpectedWait(*id, view.calls_waiting + 1)
                              : std::optional<absl::Duration>(absl::ZeroDuration());
  return view;
}

}  // namespace acd::routing
