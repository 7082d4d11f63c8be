#include "daemon/commands.h"

#include "daemon/api_convert.h"

namespace acd::daemon {

using routing::Decision;

namespace {

// An offer and a callback's start reserve an agent and carry the same facts.
template <typename Reservation>
void FillReservation(const Decision& d, const CommandFacts& facts, Reservation* out) {
  out->set_call_id(d.call_id);
  out->set_agent_id(d.agent_id);
  out->set_queue(d.queue);
  out->set_offer_timeout_seconds(absl::ToDoubleSeconds(facts.offer_timeout));
  if (facts.request != nullptr) *out->mutable_attributes() = facts.request->attributes();
  out->set_waited_seconds(absl::ToDoubleSeconds(facts.waited));
  if (facts.context != nullptr) *out->mutable_context() = *facts.context;
}

}  // namespace

std::optional<acd::v1::Command> CommandFor(const Decision& d, const CommandFacts& facts) {
  acd::v1::Command command;
  switch (d.kind) {
    case Decision::Kind::kOfferCall:
      FillReservation(d, facts, command.mutable_offer_call());
      break;
    case Decision::Kind::kStartCallback: {
      acd::v1::StartCallback* start = command.mutable_start_callback();
      FillReservation(d, facts, start);
      start->set_number(std::string(facts.callback_number));
      start->set_attempt(d.attempt);
      break;
    }
    case Decision::Kind::kCancelOffer: {
      acd::v1::CancelOffer* cancel = command.mutable_cancel_offer();
      cancel->set_call_id(d.call_id);
      cancel->set_agent_id(d.agent_id);
      cancel->set_reason(d.reason);
      break;
    }
    case Decision::Kind::kSendToFallback: {
      acd::v1::SendToFallback* fallback = command.mutable_send_to_fallback();
      fallback->set_call_id(d.call_id);
      fallback->set_queue(d.queue);
      fallback->set_target(d.target);
      fallback->set_reason(d.reason);
      break;
    }
    case Decision::Kind::kPlayPrompt: {
      acd::v1::PlayPrompt* prompt = command.mutable_play_prompt();
      prompt->set_call_id(d.call_id);
      prompt->set_kind(PromptKindToProto(d.prompt));
      prompt->set_queue(d.queue);
      prompt->set_position(d.position);
      prompt->set_expected_wait_seconds(SecondsOrUnknown(d.expected_wait));
      prompt->set_wait_over_cap(d.wait_over_cap);
      prompt->set_held_seconds(absl::ToDoubleSeconds(d.held));
      break;
    }
    case Decision::Kind::kHoldReminder: {
      acd::v1::HoldReminder* reminder = command.mutable_hold_reminder();
      reminder->set_call_id(d.call_id);
      reminder->set_agent_id(d.agent_id);
      reminder->set_held_seconds(absl::ToDoubleSeconds(d.held));
      reminder->set_expected_seconds(absl::ToDoubleSeconds(d.hold_expected));
      break;
    }
    case Decision::Kind::kHoldOverrun: {
      acd::v1::HoldOverrun* overrun = command.mutable_hold_overrun();
      overrun->set_call_id(d.call_id);
      overrun->set_agent_id(d.agent_id);
      overrun->set_held_seconds(absl::ToDoubleSeconds(d.held));
      overrun->set_reason(d.reason);
      break;
    }
    case Decision::Kind::kCallbackGaveUp: {
      acd::v1::CallbackGaveUp* gave_up = command.mutable_callback_gave_up();
      gave_up->set_call_id(d.call_id);
      gave_up->set_queue(d.queue);
      gave_up->set_attempts(d.attempt);
      break;
    }
    case Decision::Kind::kTransferCompleted: {
      acd::v1::CompleteTransfer* complete = command.mutable_complete_transfer();
      complete->set_call_id(d.call_id);
      complete->set_agent_id(d.agent_id);
      complete->set_from_agent_id(d.from_agent);
      break;
    }
    case Decision::Kind::kCallOverflowed:
    case Decision::Kind::kAgentMadeNotReady:
      return std::nullopt;
  }
  return command;
}

const std::string* ReservedCallId(const acd::v1::Command& command) {
  if (command.has_offer_call()) return &command.offer_call().call_id();
  if (command.has_start_callback()) return &command.start_callback().call_id();
  return nullptr;
}

const std::string* ReservedAgentId(const acd::v1::Command& command) {
  if (command.has_offer_call()) return &command.offer_call().agent_id();
  if (command.has_start_callback()) return &command.start_callback().agent_id();
  return nullptr;
}

}  // namespace acd::daemon
