// Router's core: the constructor, the clock and the timers it runs, the decisions handed out, and
// a call's life from Enqueue through offers and their answers to Abandon and EndCall. The other
// topics each have a file of their own (see README.md).
#include "routing/router.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "routing/quote.h"
#include "routing/request_limits.h"
#include "routing/router_internal.h"

namespace acd::routing {

using internal::Crash;

Router::Router(std::shared_ptr<const CompiledPolicy> policy, absl::Time now)
    : policy_(std::move(policy)), origin_(now), now_(now), random_(policy_->random_seed) {
  const size_t queues = policy_->queues.size();
  waiting_.resize(queues);
  available_.resize(queues);
  round_robin_last_.assign(queues, 0);
  servers_.assign(queues, 0);
  staffed_.assign(queues, 0);
  pools_by_queue_.assign(queues, {});
  agents_by_state_.assign(queues, {});
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
      SetPreferredSlot(timer.slot, kNoSlot);
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

void Router::TakeDecisions(std::vector<Decision>* into) {
  into->clear();
  into->swap(decisions_);
}

void Router::Emit(Decision decision) {
  decision.at = now_;
  decisions_.push_back(std::move(decision));
}

std::vector<CallFact> Router::TakeCallFacts() {
  std::vector<CallFact> out;
  out.swap(facts_);
  return out;
}

void Router::TakeCallFacts(std::vector<CallFact>* into) {
  into->clear();
  into->swap(facts_);
}

void Router::Note(CallFact::Kind kind, const Call& call, QueueId queue,
                  absl::Duration duration) {
  Note(kind, call, queue, duration, call.agent);
}

void Router::Note(CallFact::Kind kind, const Call& call, QueueId queue, absl::Duration duration,
                  AgentSlot agent) {
  if (!keep_facts_) return;  // built only when kept: the simulator and benches pay nothing
  facts_.push_back({.kind = kind,
                    .at = now_,
                    .call_id = call.id,
                    .queue = policy_->queues[queue].name,
                    .agent_id = agent != kNoSlot ? agents_[agent].id : std::string(),
                    .duration = duration});
}

void Router::NoteLeaving(CallSlot slot, CallFact::Outcome outcome) {
  if (calls_[slot].on_hold) EndHoldNow(slot);
  if (!keep_facts_) return;
  const Call& call = calls_[slot];
  facts_.push_back({.kind = CallFact::Kind::kLeft, .at = now_, .call_id = call.id,
                    .queue = policy_->queues[call.queue].name, .outcome = outcome,
                    .last = ViewOf(slot, /*in_line=*/false)});
}

// ---------------------------------------------------------------------------------------------
// Calls: entering the line, offers answered, leaving.

absl::StatusOr<EnqueueResult> Router::Enqueue(const CallSpec& spec, absl::Time now) {
  Advance(now);
  if (absl::Status s = CheckId(spec.call_id, "call_id"); !s.ok()) return s;
  if (call_ids_.contains(spec.call_id)) {
    return absl::AlreadyExistsError(
        absl::StrCat("call ", Quote(spec.call_id), " is already queued"));
  }
  std::optional<QueueId> queue_id = policy_->FindQueue(spec.queue);
  if (!queue_id)
    return absl::NotFoundError(absl::StrCat("queue ", Quote(spec.queue), " does not exist"));
  const CompiledQueue& queue = policy_->queues[*queue_id];
  if (spec.channel && *spec.channel != queue.channel) {
    return absl::InvalidArgumentError(absl::StrCat("channel: queue ", Quote(queue.name), " serves ",
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
          absl::StrCat("required_skills: unknown skill ", Quote(s.skill)));
    }
    if (s.proficiency < kMinProficiency || s.proficiency > kMaxProficiency) {
      return absl::InvalidArgumentError(absl::StrCat("required_skills: skill ", Quote(s.skill),
                                                     " minimum must be 1-5, not ", s.proficiency));
    }
    call.extra_skills.push_back({*id, static_cast<int8_t>(s.proficiency)});
  }
  if (!spec.tier.empty() && !policy_->tier_priority_boost.contains(spec.tier)) {
    return absl::InvalidArgumentError(absl::StrCat("tier: unknown tier ", Quote(spec.tier)));
  }
  if (!spec.language.empty()) {
    auto it = policy_->language_bits.find(spec.language);
    if (it == policy_->language_bits.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("language: unknown language ", Quote(spec.language),
                       "; the policy has: ", absl::StrJoin(policy_->languages, ", ")));
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
          absl::StrCat("attributes: ", Quote(key.substr(0, 32)), " is ", key.size() + value.size(),
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
  call.arrived = now_;
  calls_[slot] = std::move(call);
  call_ids_.emplace(calls_[slot].id, slot);
  StartQueueStint(slot, now_);
  InsertWaiting(slot);
  TryRouteCall(slot);
  if (calls_[slot].state == CallState::kOffered) {
    // A caller who finds a free agent waits for nobody.
    return EnqueueResult{EnqueueResult::Disposition::kOffered, 0, "", absl::ZeroDuration()};
  }
  // No agent free: only now do the limits on waiting calls apply.
  if (waiting_count_ > policy_->limits.max_calls_waiting) {
    EraseWaiting(slot);
    FreeCall(slot);
    return absl::ResourceExhaustedError(absl::StrCat(
        "acd holds its limit of ", policy_->limits.max_calls_waiting, " waiting calls"));
  }
  if (QueueFull(*queue_id)) {
    // Full: the call does not join; the switch sends it to the queue's fallback.
    SendToFallback(slot, queue.fallback, "queue_full");
    return EnqueueResult{EnqueueResult::Disposition::kSentToFallback, 0, queue.fallback};
  }
  const int position = Position(slot);
  const std::optional<absl::Duration> expected_wait = ExpectedWait(slot, position);
  GreetInLine(slot, position, expected_wait);
  return EnqueueResult{EnqueueResult::Disposition::kQueued, position, "", expected_wait};
}

void Router::FreeCall(CallSlot slot) {
  if (calls_[slot].consulting_agent != kNoSlot) Crash("call freed while its agent is on the line");
  CancelCallTimers(slot);
  SetPreferredSlot(slot, kNoSlot);
  call_ids_.erase(calls_[slot].id);
  calls_[slot] = Call{};
  free_calls_.push_back(slot);
}

absl::StatusOr<CallSlot> Router::CallFor(absl::string_view call_id) const {
  if (absl::Status s = CheckId(call_id, "call_id"); !s.ok()) return s;
  auto it = call_ids_.find(call_id);
  if (it == call_ids_.end()) return absl::NotFoundError(absl::StrCat("no call ", Quote(call_id)));
  return it->second;
}

absl::StatusOr<CallSlot> Router::OfferedCall(absl::string_view call_id,
                                             absl::string_view agent_id) const {
  absl::StatusOr<CallSlot> slot = CallFor(call_id);
  if (!slot.ok()) return slot.status();
  const Call& call = calls_[*slot];
  if (call.state != CallState::kOffered) {
    return absl::FailedPreconditionError(
        absl::StrCat("call ", Quote(call_id), " has no offer outstanding"));
  }
  if (agents_[call.agent].id != agent_id) {
    return absl::FailedPreconditionError(absl::StrCat("call ", Quote(call_id), " is offered to ",
                                                      Quote(agents_[call.agent].id), ", not ",
                                                      Quote(agent_id)));
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
    Note(CallFact::Kind::kAnswered, call, call.queue, now_ - call.entered_queue);
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
    Note(CallFact::Kind::kAbandoned, call, call.queue, now_ - call.entered_queue);
    if (keep_facts_ && call.state == CallState::kWaiting) facts_.back().position = Position(*slot);
  }
  if (call.state != CallState::kConnected) NoteLeaving(*slot, CallFact::Outcome::kAbandoned);
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
    return absl::FailedPreconditionError(
        absl::StrCat("call ", Quote(call_id),
                     " is not connected to an agent; a caller who hangs up while waiting "
                     "or ringing is an abandon"));
  }
  const AgentSlot agent_slot = call.agent;
  NoteLeaving(*slot, CallFact::Outcome::kEnded);
  stats_[call.queue].wait.HandleEnded(now_ - call.connected_at, now_);
  Note(CallFact::Kind::kTalkEnded, call, call.queue, now_ - call.connected_at);
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

}  // namespace acd::routing
