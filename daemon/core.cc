// The core's inputs other than call events (call_events.cc) and reads (operations.cc): calls
// entering, agents, time, command streams, and turning the router's output into commands,
// records and figures.
#include "daemon/core.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/api_convert.h"
#include "daemon/commands.h"
#include "daemon/log.h"
#include "routing/quote.h"

namespace acd::daemon {
namespace {

using routing::CallFact;
using routing::Decision;

// How a call left, as the history tells it.
const char* OutcomeName(CallFact::Outcome outcome) {
  switch (outcome) {
    case CallFact::Outcome::kEnded:
      return "ended";
    case CallFact::Outcome::kAbandoned:
      return "abandoned";
    case CallFact::Outcome::kSentToFallback:
      return "fallback";
    case CallFact::Outcome::kCallbackGaveUp:
      return "callback_gave_up";
  }
  return "";
}

acd::v1::CallState FinalState(CallFact::Outcome outcome) {
  switch (outcome) {
    case CallFact::Outcome::kEnded: return acd::v1::CALL_STATE_ENDED;
    case CallFact::Outcome::kAbandoned: return acd::v1::CALL_STATE_ABANDONED;
    case CallFact::Outcome::kSentToFallback: return acd::v1::CALL_STATE_FALLBACK;
    case CallFact::Outcome::kCallbackGaveUp: return acd::v1::CALL_STATE_CALLBACK_FAILED;
  }
  return acd::v1::CALL_STATE_UNSPECIFIED;
}

}  // namespace

Core::Core(std::shared_ptr<const routing::CompiledPolicy> policy, std::string policy_source,
           CoreOptions options, metrics::CallObserver* observer, absl::Time now)
    : options_(options),
      observer_(observer),
      router_(std::make_unique<routing::Router>(policy, now)),
      policy_source_(std::move(policy_source)),
      policy_applied_at_(now),
      book_(options.call_retention, options.max_finished_calls),
      outboxes_(options.max_outbox) {
  router_->KeepCallFacts(true);
  if (observer_ != nullptr) observer_->SetPolicy(std::move(policy));
}

// ---------------------------------------------------------------------------------------------
// Every input's beginning and end.

void Core::CatchUp(absl::Time now) {
  router_->AdvanceTo(now);
  book_.Sweep(now);
  // What fell due is settled before the input acts, against the state it fell due in.
  Settle();
}

void Core::Settle() {
  router_->TakeDecisions(&decisions_);
  for (const Decision& decision : decisions_) Dispatch(decision);
  router_->TakeCallFacts(&facts_);
  for (const CallFact& fact : facts_) Observe(fact);
  if (history_) {
    // A call's leaving is told after everything else that settled with it (the router notes it
    // before the talk that ended with it).
    for (const CallFact& fact : facts_) {
      if (fact.kind != CallFact::Kind::kLeft) TellFact(fact);
    }
    for (const CallFact& fact : facts_) {
      if (fact.kind == CallFact::Kind::kLeft) TellFact(fact);
    }
  }
  for (const auto& [switch_id, dropped] : outboxes_.TakeDropped()) {
    AddNotice("commands_dropped",
              absl::StrCat("switch ", switch_id, " has not read its commands: the oldest ", dropped,
                           " unwritten ones were dropped (at most ", options_.max_outbox,
                           " wait per switch)"));
  }
}

std::vector<Core::Notice> Core::TakeNotices() {
  owner_.Check("Core::TakeNotices");
  std::vector<Notice> out;
  out.swap(notices_);
  return out;
}

void Core::AdvanceTo(absl::Time now) {
  owner_.Check("Core::AdvanceTo");
  CatchUp(now);
}

std::optional<absl::Time> Core::NextWakeup() {
  owner_.Check("Core::NextWakeup");
  return router_->NextWakeup();
}

// A decision becomes a line in its call's history, a figure, and (most of them) a command to the
// call's switch, dated when the router made it.
void Core::Dispatch(const Decision& d) {
  if (d.kind == Decision::Kind::kAgentMadeNotReady) {
    AddNotice("agent_made_not_ready", absl::StrCat("agent ", routing::Quote(d.agent_id),
                                                   " is now not_ready(", d.reason, ")"));
    TellAgent(HistoryEvent::kNotReady, d.agent_id, d.reason, d.at);
    return;
  }
  CallRecord* record = book_.Find(d.call_id);
  // A record opens before the core settles the router's first decision about its call, and
  // outlives the call.
  if (record == nullptr) Crash(absl::StrCat("decision for call ", d.call_id, " without a record"));
  CommandFacts facts;
  acd::v1::EnqueueCallRequest request;  // parsed only for the commands that carry its attributes
  switch (d.kind) {
    case Decision::Kind::kOfferCall:
    case Decision::Kind::kStartCallback: {
      const std::optional<routing::CallView> call = router_->FindCall(d.call_id);
      request = record->Request();
      facts.request = &request;
      facts.context = &record->context();
      facts.waited = call ? d.at - call->arrived : absl::ZeroDuration();
      if (std::optional<routing::QueueId> q = router_->policy().FindQueue(d.queue)) {
        facts.offer_timeout = router_->policy().queues[*q].offer_timeout;
      }
      facts.callback_number = record->callback_number;
      record->agent_rung = d.agent_id;
      if (history_) {
        history_->Record({.kind = HistoryEvent::kOffered,
                          .at = d.at,
                          .call_id = d.call_id,
                          .queue = d.queue,
                          .agent_id = d.agent_id});
      }
      if (d.kind == Decision::Kind::kOfferCall) {
        CallBook::AddHistory(*record, "offered", d.agent_id, d.at);
      } else {
        if (observer_) observer_->Callback(d.queue, metrics::CallbackOutcome::kStarted);
        CallBook::AddHistory(*record, "callback_started",
                             absl::StrCat(d.agent_id, ", attempt ", d.attempt), d.at);
      }
      break;
    }
    case Decision::Kind::kCancelOffer:
      if (history_) {
        history_->Record({.kind = HistoryEvent::kOfferEnded,
                          .at = d.at,
                          .call_id = d.call_id,
                          .queue = d.queue,
                          .agent_id = d.agent_id,
                          .reason = d.reason});
      }
      CallBook::AddHistory(*record, "offer_cancelled", absl::StrCat(d.agent_id, ": ", d.reason),
                           d.at);
      EndOffer(*record, d.call_id);
      break;
    case Decision::Kind::kSendToFallback:
      if (observer_) observer_->LeftLine(d.queue, metrics::Outcome::kFallback);
      if (history_) {
        history_->Record({.kind = HistoryEvent::kSentToFallback,
                          .at = d.at,
                          .call_id = d.call_id,
                          .queue = d.queue,
                          .other = d.target,
                          .reason = d.reason});
      }
      CallBook::AddHistory(*record, "fallback", absl::StrCat(d.target, " (", d.reason, ")"), d.at);
      break;
    case Decision::Kind::kCallOverflowed:
      if (observer_) observer_->LeftLine(d.from_queue, metrics::Outcome::kOverflowed);
      if (history_) {
        history_->Record({.kind = HistoryEvent::kOverflowed,
                          .at = d.at,
                          .call_id = d.call_id,
                          .queue = d.queue,
                          .other = d.from_queue});
      }
      CallBook::AddHistory(*record, "overflowed", absl::StrCat(d.from_queue, " -> ", d.queue),
                           d.at);
      break;
    case Decision::Kind::kPlayPrompt:
      if (observer_) observer_->Prompted(d.queue, d.prompt);
      if (history_) {
        history_->Record({.kind = HistoryEvent::kPrompted,
                          .at = d.at,
                          .call_id = d.call_id,
                          .queue = d.queue,
                          .reason = std::string(routing::PromptKindName(d.prompt))});
      }
      if (d.prompt == routing::PromptKind::kCallbackOffer) {
        CallBook::AddHistory(
            *record, "callback_offered",
            d.expected_wait
                ? absl::StrCat("expected wait ", absl::ToDoubleSeconds(*d.expected_wait), " s")
                : "",
            d.at);
      }
      break;
    case Decision::Kind::kHoldReminder:
      break;  // a command to the agent; what the caller hears was counted as a prompt
    case Decision::Kind::kHoldOverrun:
      if (observer_) observer_->HoldOverrun(d.queue, d.reason);
      CallBook::AddHistory(*record, "hold_overrun",
                           absl::StrCat(d.reason, " after ", absl::ToDoubleSeconds(d.held), " s"),
                           d.at);
      break;
    case Decision::Kind::kCallbackGaveUp:
      if (observer_) observer_->Callback(d.queue, metrics::CallbackOutcome::kGaveUp);
      if (history_) {
        history_->Record({.kind = HistoryEvent::kCallbackGaveUp,
                          .at = d.at,
                          .call_id = d.call_id,
                          .queue = d.queue});
      }
      CallBook::AddHistory(*record, "callback_gave_up", absl::StrCat(d.attempt, " attempts"), d.at);
      break;
    case Decision::Kind::kTransferCompleted:
      if (history_) {
        history_->Record({.kind = HistoryEvent::kTransferCompleted,
                          .at = d.at,
                          .call_id = d.call_id,
                          .queue = d.queue,
                          .agent_id = d.agent_id,
                          .other = d.from_agent});
      }
      CallBook::AddHistory(*record, "transfer_completed",
                           absl::StrCat(d.from_agent, " -> ", d.agent_id), d.at);
      break;
    case Decision::Kind::kAgentMadeNotReady:
      break;
  }
  if (std::optional<acd::v1::Command> command = CommandFor(d, facts)) {
    outboxes_.Send(record->switch_id(), *std::move(command), d.at);
  }
}

// What the router saw happen to a call reaches the figures, and a call that left has its record
// closed with how it ended.
void Core::Observe(const CallFact& fact) {
  switch (fact.kind) {
    case CallFact::Kind::kAnswered:
      if (observer_) observer_->Answered(fact.queue, fact.duration, fact.at);
      return;
    case CallFact::Kind::kAbandoned:
      if (observer_) observer_->Abandoned(fact.queue, fact.duration, fact.at);
      return;
    case CallFact::Kind::kTalkEnded:
      if (observer_) observer_->TalkEnded(fact.queue, fact.duration, fact.at);
      return;
    case CallFact::Kind::kHoldEnded:
      if (observer_) observer_->HoldEnded(fact.queue, fact.duration);
      return;
    case CallFact::Kind::kLeft: {
      CallRecord* record = book_.Find(fact.call_id);
      if (record == nullptr) Crash(absl::StrCat("call ", fact.call_id, " left without a record"));
      EndOffer(*record, fact.call_id);
      const routing::CallView& last = *fact.last;
      book_.Finish(fact.call_id,
                   FinishedCall{.state = FinalState(fact.outcome),
                                .queue = last.queue,
                                .arrived = last.arrived,
                                .agent_id = !last.consulting_agent.empty() ? last.consulting_agent
                                            : !last.agent_id.empty()       ? last.agent_id
                                                                           : record->agent_rung,
                                .holds = last.holds,
                                .hold_time = last.hold_time},
                   fact.at);
      return;
    }
  }
}

void Core::TellFact(const CallFact& fact) {
  HistoryEvent event{.at = fact.at,
                     .call_id = fact.call_id,
                     .queue = fact.queue,
                     .agent_id = fact.agent_id,
                     .duration = fact.duration,
                     .position = fact.position};
  switch (fact.kind) {
    case CallFact::Kind::kAnswered:
      event.kind = HistoryEvent::kConnected;
      break;
    case CallFact::Kind::kAbandoned:
      event.kind = HistoryEvent::kAbandoned;
      break;
    case CallFact::Kind::kTalkEnded:
      event.kind = HistoryEvent::kTalkEnded;
      break;
    case CallFact::Kind::kHoldEnded:
      event.kind = HistoryEvent::kHoldEnded;
      break;
    case CallFact::Kind::kLeft:
      event.kind = HistoryEvent::kLeft;
      event.reason = OutcomeName(fact.outcome);
      event.duration = fact.at - fact.last->arrived;  // in acd, from its first arrival
      break;
  }
  history_->Record(event);
}

void Core::TellAgent(HistoryEvent::Kind kind, const std::string& agent_id, std::string reason,
                     absl::Time at) {
  if (!history_) return;
  HistoryEvent event{.kind = kind, .at = at, .agent_id = agent_id, .reason = std::move(reason)};
  if (std::optional<routing::AgentView> agent = router_->FindAgent(agent_id)) {
    event.queues = std::move(agent->queues);
  }
  history_->Record(event);
}

void Core::EndOffer(const CallRecord& record, const std::string& call_id) {
  outboxes_.EndOffer(record.switch_id(), call_id);
}

// ---------------------------------------------------------------------------------------------
// Calls entering.

absl::Status Core::EnqueueCall(const acd::v1::EnqueueCallRequest& request,
                               acd::v1::EnqueueCallResponse* response, absl::Time now) {
  owner_.Check("Core::EnqueueCall");
  CatchUp(now);
  if (const CallRecord* existing = book_.Find(request.call_id())) {
    Settle();
    if (existing->switch_id() != request.switch_id()) {
      return absl::AlreadyExistsError(absl::StrCat("call_id ", routing::Quote(request.call_id()),
                                                   " is in use by switch ",
                                                   routing::Quote(existing->switch_id())));
    }
    if (existing->request != DeterministicBytes(request)) {
      return absl::AlreadyExistsError(absl::StrCat("call_id ", routing::Quote(request.call_id()),
                                                   " is in use for another call (queue ",
                                                   routing::Quote(existing->Request().queue()),
                                                   "); a retry must repeat the request exactly"));
    }
    *response = existing->first_response;  // a retry: the original answer
    return absl::OkStatus();
  }
  if (draining_) {
    Settle();
    return absl::UnavailableError("acdd is shutting down; not taking calls");
  }
  absl::StatusOr<routing::EnqueueResult> result = router_->Enqueue(CallSpecOf(request), now);
  if (!result.ok()) {
    Settle();
    return result.status();
  }
  *response = EnqueueResponseOf(*result);
  CallRecord& record = book_.Open(request, *response);
  CallBook::AddHistory(record, "enqueued", request.queue(), now);
  if (history_) {
    history_->Record({.kind = HistoryEvent::kEntered,
                      .at = now,
                      .call_id = request.call_id(),
                      .queue = request.queue(),
                      .position = result->position});
  }
  Settle();
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Command streams.

std::vector<acd::v1::Command> Core::ReconnectSwitch(const std::string& switch_id) {
  owner_.Check("Core::ReconnectSwitch");
  return outboxes_.Reconnect(switch_id);
}

void Core::CommandWritten(const std::string& switch_id, uint64_t sequence) {
  owner_.Check("Core::CommandWritten");
  outboxes_.Written(switch_id, sequence);
}

bool Core::AwaitsWrite(const std::string& switch_id, uint64_t sequence) const {
  owner_.Check("Core::AwaitsWrite");
  return outboxes_.AwaitsWrite(switch_id, sequence);
}

std::vector<OutgoingCommand> Core::TakeCommands() {
  owner_.Check("Core::TakeCommands");
  return outboxes_.TakeNew();
}

void Core::BeginDrain() {
  owner_.Check("Core::BeginDrain");
  draining_ = true;
}

void Core::Restart(const CoreOptions& options) {
  owner_.Check("Core::Restart");
  draining_ = false;
  options_ = options;
  book_.SetLimits(options.call_retention, options.max_finished_calls);
  outboxes_.set_max_unwritten(options.max_outbox);
}

bool Core::draining() const {
  owner_.Check("Core::draining");
  return draining_;
}

const routing::Router& Core::router() const {
  owner_.Check("Core::router");
  return *router_;
}

// ---------------------------------------------------------------------------------------------
// Agents.

absl::Status Core::Login(const acd::v1::LoginRequest& request, acd::v1::AgentInfo* response,
                         absl::Time now) {
  owner_.Check("Core::Login");
  CatchUp(now);
  const std::string login = DeterministicBytes(request);
  absl::Status status;
  if (auto existing = logins_.find(request.agent_id()); existing != logins_.end()) {
    if (existing->second != login) {
      status = absl::AlreadyExistsError(
          absl::StrCat("agent ", routing::Quote(request.agent_id()),
                       " is already logged in with other settings; log out first"));
    }
    // Else a retry of the same login: answered with the agent as it stands.
  } else if (absl::StatusOr<routing::AgentSpec> spec = AgentSpecOf(request); !spec.ok()) {
    status = spec.status();
  } else {
    status = router_->Login(*spec, now);
    if (status.ok()) {
      logins_[request.agent_id()] = login;
      TellAgent(HistoryEvent::kLoggedIn, request.agent_id(), request.ready() ? "" : "logged_in",
                now);
    }
  }
  Settle();
  if (!status.ok()) return status;
  FillAgentInfo(request.agent_id(), response);
  return absl::OkStatus();
}

absl::Status Core::SetAgentState(const acd::v1::SetAgentStateRequest& request,
                                 acd::v1::AgentInfo* response, absl::Time now) {
  owner_.Check("Core::SetAgentState");
  CatchUp(now);
  absl::Status status;
  switch (request.change_case()) {
    case acd::v1::SetAgentStateRequest::kReady:
      status = router_->SetReady(request.agent_id(), now);
      if (status.ok()) TellAgent(HistoryEvent::kReady, request.agent_id(), "", now);
      break;
    case acd::v1::SetAgentStateRequest::kNotReady:
      status = router_->SetNotReady(request.agent_id(), request.not_ready().reason(), now);
      if (status.ok()) {
        TellAgent(HistoryEvent::kNotReady, request.agent_id(), request.not_ready().reason(), now);
      }
      break;
    case acd::v1::SetAgentStateRequest::kEndWrapUp:
      status = router_->EndWrapUp(request.agent_id(), now);
      break;
    case acd::v1::SetAgentStateRequest::CHANGE_NOT_SET:
      status = absl::InvalidArgumentError("change: set one of ready, not_ready, end_wrap_up");
      break;
  }
  Settle();
  if (!status.ok()) return status;
  FillAgentInfo(request.agent_id(), response);
  return absl::OkStatus();
}

absl::Status Core::Logout(const acd::v1::LogoutRequest& request, absl::Time now) {
  owner_.Check("Core::Logout");
  CatchUp(now);
  // The queues it served, read before it leaves them.
  std::optional<routing::AgentView> leaving;
  if (history_) leaving = router_->FindAgent(request.agent_id());
  absl::Status status = router_->Logout(request.agent_id(), now);
  if (status.ok() && leaving) {
    history_->Record({.kind = HistoryEvent::kLoggedOut,
                      .at = now,
                      .agent_id = request.agent_id(),
                      .queues = std::move(leaving->queues)});
  }
  if (status.ok()) logins_.erase(request.agent_id());
  Settle();
  return status;
}

}  // namespace acd::daemon
