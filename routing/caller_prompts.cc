// What the caller hears in line: the greeting on entry, an update every update_interval (position
// and rounded expected wait), and a callback offer when the wait is long.
#include "routing/router.h"

#include <algorithm>

namespace acd::routing {

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
  const absl::Time allowed = call.last_prompt_at + policy_->queues[call.queue].prompts.min_spacing;
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
  const std::optional<absl::Duration> expected_wait = ExpectedWait(slot, position);
  if (call.last_prompt_at == absl::InfinitePast()) {
    Announce(slot, Decision::PromptKind::kEntry, position, expected_wait);
    return;
  }
  const PromptRules& rules = policy_->queues[call.queue].prompts;
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
  const PromptRules& rules = policy_->queues[call.queue].prompts;
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
  const CallbackRules& callbacks = policy_->queues[call.queue].callbacks;
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
  if (call.last_prompt_at + policy_->queues[call.queue].prompts.update_interval <= now_) {
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
  const absl::Time due = call.last_prompt_at + policy_->queues[call.queue].prompts.update_interval;
  ScheduleCallTimer(slot, TimerKind::kPromptDue, std::max(due, now_));
}

}  // namespace acd::routing
