// The core's call events: what a switch reports happened to a call (offer answers, hang-ups,
// holds, transfers, callbacks), each judged against the retry ledger first, then handed to the
// router and written into the call's record.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "daemon/api_convert.h"
#include "daemon/commands.h"
#include "daemon/core.h"
#include "daemon/log.h"
#include "routing/quote.h"

namespace acd::daemon {
namespace {

// Ids the switch gave a call's holds, kept for exact retries: at most this many per call.
constexpr size_t kMaxHoldIds = 100;

std::string WithReason(const std::string& who, const std::string& reason) {
  return reason.empty() ? who : absl::StrCat(who, ": ", reason);
}

}  // namespace

absl::Status Core::ReportCallEvent(const acd::v1::CallEvent& event,
                                   acd::v1::CallEventResponse* response, absl::Time now) {
  owner_.Check("Core::ReportCallEvent");
  CatchUp(now);
  const std::string& call_id = event.call_id();
  CallRecord* record = book_.Find(call_id);
  absl::Status status;
  if (record == nullptr) {
    status = absl::NotFoundError(absl::StrCat("no call ", routing::Quote(call_id)));
  } else if (record->switch_id() != event.switch_id()) {
    status = absl::FailedPreconditionError(absl::StrCat("call ", routing::Quote(call_id),
                                                        " belongs to switch ",
                                                        routing::Quote(record->switch_id())));
  }
  if (!status.ok()) {
    Settle();
    return status;
  }
  const std::optional<routing::CallView> call = router_->FindCall(call_id);
  const RetryVerdict verdict =
      JudgeRetry(event, record->answers,
                 CallSubjects{.offer = outboxes_.OutstandingOffer(record->switch_id(), call_id),
                              .connected = call && call->state == routing::CallState::kConnected,
                              .agent_id = call ? absl::string_view(call->agent_id) : "",
                              .connected_sequence = record->connected_sequence,
                              .consulting_agent =
                                  call ? absl::string_view(call->consulting_agent) : "",
                              .consults = record->consults});
  if (verdict.kind == RetryVerdict::kRepeat) {
    response->set_state(verdict.state);
  } else if (verdict.kind == RetryVerdict::kStale) {
    status = verdict.refusal;
  } else if (record->finished) {
    status = absl::FailedPreconditionError(
        absl::StrCat("call ", routing::Quote(call_id), " has already left acd (",
                     acd::v1::CallState_Name(record->finished->state), ")"));
  } else if (event.event_case() == acd::v1::CallEvent::EVENT_NOT_SET) {
    status = absl::InvalidArgumentError("event: set one event");
  } else {
    // A record is live exactly while the router holds its call (the core settles every call
    // that left before an input ends).
    if (!call) Crash(absl::StrCat("live record for call ", call_id, " the router does not hold"));
    status = ApplyCallEvent(*record, *call, event, now);
    Settle();  // the record stays: a finished one is kept, and only older ones are dropped
    response->set_state(StateOf(call_id, *record));
    // Holds are judged by state, not stored answers: a call may be held many times.
    if (status.ok() && !event.has_hold_started() && !event.has_hold_ended()) {
      record->answers.Remember(event, verdict.subject, response->state());
    }
    return status;
  }
  Settle();
  return status;
}

absl::Status Core::ApplyCallEvent(CallRecord& record, const routing::CallView& call,
                                  const acd::v1::CallEvent& event, absl::Time now) {
  const std::string& call_id = event.call_id();
  const std::string& agent_id = event.agent_id();
  absl::Status status;
  switch (event.event_case()) {
    case acd::v1::CallEvent::kOfferAccepted:
      return Accept(record, call_id, agent_id, now);
    case acd::v1::CallEvent::kOfferRejected:
      status = router_->OfferRejected(call_id, agent_id, now);
      if (!status.ok()) return status;
      EndOffer(record, call_id);
      TellOfferEnded(call, agent_id, "rejected", now);
      CallBook::AddHistory(record, "offer_rejected",
                           WithReason(agent_id, event.offer_rejected().reason()), now);
      return status;
    case acd::v1::CallEvent::kOfferNoAnswer:
      status = router_->OfferNotAnswered(call_id, agent_id, now);
      if (!status.ok()) return status;
      EndOffer(record, call_id);
      TellOfferEnded(call, agent_id, "no_answer", now);
      CallBook::AddHistory(record, "offer_no_answer", agent_id, now);
      return status;
    case acd::v1::CallEvent::kCallerAbandoned: {
      // A caller in a warm transfer is still with the first agent: their call ends, not abandons.
      const bool connected =
          call.state == routing::CallState::kConnected || !call.consulting_agent.empty();
      status = router_->Abandon(call_id, now);
      if (!status.ok()) return status;
      if (connected && history_) {
        history_->Record({.kind = HistoryEvent::kCallerHungUp,
                          .at = now,
                          .call_id = call_id,
                          .queue = call.queue});
      }
      CallBook::AddHistory(record, connected ? "ended" : "abandoned", "caller hung up", now);
      return status;
    }
    case acd::v1::CallEvent::kCallEnded:
      status = router_->EndCall(call_id, now);
      if (!status.ok()) return status;
      CallBook::AddHistory(
          record, "ended", call.consulting_agent.empty() ? call.agent_id : call.consulting_agent,
          now);
      return status;
    case acd::v1::CallEvent::kAnswered:
      return Answered(record, call, agent_id, now);
    case acd::v1::CallEvent::kTransferRequested:
    case acd::v1::CallEvent::kConsultTransferRequested:
      return Transfer(record, call, event, now);
    case acd::v1::CallEvent::kConsultCancelled:
      status = router_->CancelConsult(call_id, agent_id, now);
      if (!status.ok()) return status;
      // The transfer did not happen: the context is as before, and a new consult request by this
      // agent is new, not a retry of the cancelled one.
      if (record.context_before_consult) *record.mutable_context() = *record.context_before_consult;
      record.context_before_consult.reset();
      record.answers.ForgetConsultRequests(agent_id);
      CallBook::AddHistory(record, "consult_cancelled", agent_id, now);
      return status;
    case acd::v1::CallEvent::kCallbackAccepted:
      status = router_->AcceptCallback(call_id, now);
      if (!status.ok()) return status;
      if (observer_) {
        observer_->LeftLine(call.queue, metrics::Outcome::kCallback);
        observer_->Callback(call.queue, metrics::CallbackOutcome::kAccepted);
      }
      record.callback_number = event.callback_accepted().number();
      if (history_) {
        history_->Record({.kind = HistoryEvent::kCallbackAccepted,
                          .at = now,
                          .call_id = call_id,
                          .queue = call.queue});
      }
      // The number itself is in GetCall's callback_number, for the roles that may see it.
      CallBook::AddHistory(record, "callback_accepted",
                           record.callback_number.empty() ? "caller's number" : "another number",
                           now);
      return status;
    case acd::v1::CallEvent::kCallbackNotReached:
      status = router_->CallbackNotReached(call_id, agent_id, now);
      if (!status.ok()) return status;
      if (observer_) observer_->Callback(call.queue, metrics::CallbackOutcome::kNotReached);
      record.agent_rung.clear();
      CallBook::AddHistory(record, "callback_not_reached",
                           WithReason(agent_id, event.callback_not_reached().reason()), now);
      return status;
    case acd::v1::CallEvent::kHoldStarted:
    case acd::v1::CallEvent::kHoldEnded: {
      // During a consult the caller is with the consulting agent, not the one being offered.
      const std::string& on_the_line =
          call.consulting_agent.empty() ? call.agent_id : call.consulting_agent;
      if (!agent_id.empty() && agent_id != on_the_line) {
        return absl::FailedPreconditionError(absl::StrCat(
            "agent ", routing::Quote(agent_id), " is not on call ", routing::Quote(call_id)));
      }
      return event.has_hold_started() ? StartHold(record, call, event.hold_started(), now)
                                      : EndHold(record, call, event.hold_ended().hold_id(), now);
    }
    case acd::v1::CallEvent::EVENT_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("event: set one event");
}

void Core::TellOfferEnded(const routing::CallView& call, const std::string& agent_id,
                          const char* reason, absl::Time now) {
  if (!history_) return;
  history_->Record({.kind = HistoryEvent::kOfferEnded,
                    .at = now,
                    .call_id = call.call_id,
                    .queue = call.queue,
                    .agent_id = agent_id,
                    .reason = reason});
}

// The agent took the offer: the call is connected, and later events name this offer.
absl::Status Core::Accept(CallRecord& record, const std::string& call_id,
                          const std::string& agent_id, absl::Time now) {
  const acd::v1::Command* offer = outboxes_.OutstandingOffer(record.switch_id(), call_id);
  const uint64_t sequence = offer != nullptr ? offer->sequence() : 0;
  absl::Status accepted = router_->OfferAccepted(call_id, agent_id, now);
  if (!accepted.ok()) return accepted;
  record.connected_sequence = sequence;
  EndOffer(record, call_id);
  CallBook::AddHistory(record, "connected", agent_id, now);
  return accepted;
}

// The agent's leg is bridged; for a ringing offer that also accepts it.
absl::Status Core::Answered(CallRecord& record, const routing::CallView& call,
                            const std::string& agent_id, absl::Time now) {
  const std::string& call_id = call.call_id;
  if (call.state == routing::CallState::kOffered && call.agent_id == agent_id) {
    if (absl::Status accepted = Accept(record, call_id, agent_id, now); !accepted.ok()) {
      return accepted;
    }
  }
  const std::optional<routing::CallView> after = router_->FindCall(call_id);
  if (!after || after->state != routing::CallState::kConnected || after->agent_id != agent_id) {
    return absl::FailedPreconditionError(absl::StrCat("call ", routing::Quote(call_id),
                                                      " is not ringing or connected at agent ",
                                                      routing::Quote(agent_id)));
  }
  CallBook::AddHistory(record, "answered", agent_id, now);
  return absl::OkStatus();
}

// A blind or warm transfer: the router finds the call its next place, and the context it carries
// grows, complete before the next offer goes out (when the core settles).
absl::Status Core::Transfer(CallRecord& record, const routing::CallView& call,
                            const acd::v1::CallEvent& event, absl::Time now) {
  const bool warm = event.has_consult_transfer_requested();
  const acd::v1::TransferRequested& transfer =
      warm ? event.consult_transfer_requested() : event.transfer_requested();
  const routing::TransferTarget target{.queue = transfer.queue(), .agent_id = transfer.agent_id()};
  absl::StatusOr<routing::EnqueueResult> moved =
      warm ? router_->StartConsult(call.call_id, event.agent_id(), target, now)
           : router_->Transfer(call.call_id, event.agent_id(), target, now);
  if (!moved.ok()) return moved.status();
  if (warm && moved->disposition != routing::EnqueueResult::Disposition::kSentToFallback) {
    record.context_before_consult = std::make_unique<acd::v1::CallContext>(record.context());
    record.consults++;
  }
  if (!warm) record.agent_rung.clear();
  if (observer_) {
    observer_->Transferred(call.queue,
                           warm ? routing::TransferKind::kWarm : routing::TransferKind::kBlind);
  }
  acd::v1::CallContext& context = *record.mutable_context();
  context.set_transfers(context.transfers() + 1);
  context.add_previous_queues(call.queue);
  context.add_previous_agents(event.agent_id());
  context.set_transfer_reason(transfer.reason());
  if (!transfer.notes().empty()) context.add_notes(transfer.notes());
  if (history_) {
    history_->Record({.kind = HistoryEvent::kTransferred,
                      .at = now,
                      .call_id = call.call_id,
                      .queue = call.queue,
                      .agent_id = event.agent_id(),
                      .other = transfer.has_queue() ? absl::StrCat("queue ", transfer.queue())
                                                    : absl::StrCat("agent ", transfer.agent_id()),
                      .reason = transfer.reason(),
                      .warm = warm});
  }
  CallBook::AddHistory(
      record, warm ? "consult_started" : "transferred",
      WithReason(absl::StrCat(event.agent_id(), " -> ",
                              transfer.has_queue() ? absl::StrCat("queue ", transfer.queue())
                                                   : absl::StrCat("agent ", transfer.agent_id())),
                 transfer.reason()),
      now);
  return absl::OkStatus();
}

// A hold the switch may name: a repeat of a named hold, or of any hold while one lasts, is a
// no-op; a second named hold while another lasts is refused.
absl::Status Core::StartHold(CallRecord& record, const routing::CallView& call,
                             const acd::v1::HoldStarted& hold, absl::Time now) {
  if (call.state != routing::CallState::kConnected && call.consulting_agent.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("call ", routing::Quote(call.call_id),
                     " is not connected to an agent; only a connected "
                     "caller can be put on hold"));
  }
  const std::string& id = hold.hold_id();
  if (!id.empty() &&
      std::find(record.hold_ids.begin(), record.hold_ids.end(), id) != record.hold_ids.end()) {
    return absl::OkStatus();  // this hold was started already: a retry
  }
  if (call.on_hold) {
    if (!id.empty() && !record.current_hold_id.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the caller is already on hold (", routing::Quote(record.current_hold_id), ")"));
    }
    return absl::OkStatus();  // a repeat
  }
  absl::Status held = router_->StartHold(call.call_id, absl::Seconds(hold.expected_seconds()), now);
  if (!held.ok()) return held;
  if (!id.empty() && record.hold_ids.size() < kMaxHoldIds) record.hold_ids.push_back(id);
  record.current_hold_id = id;
  if (history_) {
    history_->Record(
        {.kind = HistoryEvent::kHoldStarted,
         .at = now,
         .call_id = call.call_id,
         .queue = call.queue,
         .agent_id = call.consulting_agent.empty() ? call.agent_id : call.consulting_agent,
         .reason = hold.reason()});
  }
  CallBook::AddHistory(
      record, "hold_started",
      absl::StrCat(hold.reason().empty() ? "no reason given" : hold.reason(),
                   hold.caller_consented() ? ", caller consented" : ", no consent recorded",
                   hold.expected_seconds() > 0
                       ? absl::StrCat(", expected ", hold.expected_seconds(), " s")
                       : ""),
      now);
  return absl::OkStatus();
}

absl::Status Core::EndHold(CallRecord& record, const routing::CallView& call,
                           const std::string& hold_id, absl::Time now) {
  if (!hold_id.empty() && call.on_hold && hold_id != record.current_hold_id) {
    return absl::FailedPreconditionError(absl::StrCat("the caller is on hold ",
                                                      routing::Quote(record.current_hold_id),
                                                      ", not ", routing::Quote(hold_id)));
  }
  if (!call.on_hold) {
    const bool known = hold_id.empty() ? call.holds > 0
                                       : std::find(record.hold_ids.begin(), record.hold_ids.end(),
                                                   hold_id) != record.hold_ids.end();
    if (known) return absl::OkStatus();  // a repeat of a hold's end
    return absl::FailedPreconditionError("the call is not on hold");
  }
  if (absl::Status ended = router_->EndHold(call.call_id, now); !ended.ok()) return ended;
  CallBook::AddHistory(record, "hold_ended",
                       absl::StrCat(absl::ToDoubleSeconds(now - call.hold_started), " s"), now);
  return absl::OkStatus();
}

}  // namespace acd::daemon
