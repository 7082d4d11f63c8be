#include "daemon/engine.h"

#include <cstdio>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asio/post.hpp"
#include "daemon/grpc_status.h"
#include "daemon/text_diff.h"
#include "google/protobuf/util/message_differencer.h"
#include "routing/policy_text.h"
#include "routing/policy_validator.h"
#include "routing/policy_yaml.h"

namespace acd::daemon {
namespace {

using acd::v1::CallState;
using routing::Decision;

constexpr size_t kMaxHistory = 100;
constexpr absl::Duration kSweepEvery = absl::Seconds(5);

acd::v1::AgentState AgentStateToProto(routing::AgentState state) {
  switch (state) {
    case routing::AgentState::kLoggedOut: return acd::v1::AGENT_STATE_LOGGED_OUT;
    case routing::AgentState::kReady: return acd::v1::AGENT_STATE_READY;
    case routing::AgentState::kNotReady: return acd::v1::AGENT_STATE_NOT_READY;
    case routing::AgentState::kReserved: return acd::v1::AGENT_STATE_RESERVED;
    case routing::AgentState::kBusy: return acd::v1::AGENT_STATE_BUSY;
    case routing::AgentState::kWrapUp: return acd::v1::AGENT_STATE_WRAP_UP;
  }
  return acd::v1::AGENT_STATE_UNSPECIFIED;
}

CallState CallStateToProto(routing::CallState state) {
  switch (state) {
    case routing::CallState::kWaiting: return acd::v1::CALL_STATE_WAITING;
    case routing::CallState::kOffered: return acd::v1::CALL_STATE_OFFERED;
    case routing::CallState::kConnected: return acd::v1::CALL_STATE_CONNECTED;
  }
  return acd::v1::CALL_STATE_UNSPECIFIED;
}


void Log(const std::string& line) { std::fprintf(stderr, "acdd: %s\n", line.c_str()); }

}  // namespace

Engine::Engine(std::shared_ptr<const routing::CompiledPolicy> policy, std::string policy_source,
               EngineOptions options)
    : work_(asio::make_work_guard(io_)),
      steady_start_(std::chrono::steady_clock::now()),
      wall_start_(absl::Now()),
      options_(options),
      router_(std::move(policy), wall_start_),
      policy_source_(std::move(policy_source)),
      policy_applied_at_(wall_start_),
      wakeup_(io_),
      sweep_(io_) {}

Engine::~Engine() { Stop(); }

void Engine::Start() {
  thread_ = std::thread([this] { io_.run(); });
  Post([this] { SweepEndedCalls(); });
}

void Engine::Stop() {
  if (!thread_.joinable()) return;
  Post([this] {
    stopping_ = true;  // handlers already queued must not re-arm
    wakeup_.cancel();
    sweep_.cancel();
    for (auto& [stream, watch] : watches_) watch.timer->cancel();
    work_.reset();
  });
  thread_.join();
}

void Engine::Post(std::function<void()> task) { asio::post(io_, std::move(task)); }

// The engine's clock: wall time at start plus steady time since, so it never jumps backwards.
absl::Time Engine::Now() const {
  return wall_start_ + absl::FromChrono(std::chrono::steady_clock::now() - steady_start_);
}

std::chrono::steady_clock::time_point Engine::ToSteady(absl::Time t) const {
  return steady_start_ + absl::ToChronoNanoseconds(t - wall_start_);
}

google::protobuf::Timestamp Engine::ToProto(absl::Time t) const {
  google::protobuf::Timestamp out;
  const int64_t nanos = absl::ToUnixNanos(t);
  out.set_seconds(nanos / 1'000'000'000);
  out.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decisions, commands, timers.

void Engine::AfterEvent() {
  for (const Decision& d : router_.TakeDecisions()) Dispatch(d);
  RearmWakeup();
}

void Engine::RearmWakeup() {
  if (stopping_) return;
  std::optional<absl::Time> next = router_.NextWakeup();
  if (next == armed_for_) return;
  armed_for_ = next;
  wakeup_.cancel();
  if (!next) return;
  wakeup_.expires_at(ToSteady(*next));
  wakeup_.async_wait([this](const asio::error_code& error) {
    if (error || stopping_) return;  // cancelled: re-armed for another time, or stopping
    armed_for_.reset();
    router_.AdvanceTo(Now());
    AfterEvent();
  });
}

void Engine::AddHistory(CallRecord& record, std::string what, std::string detail) {
  // Past the cap only the entries that say where the call went are kept, so its end always shows.
  static const std::set<std::string> kEssential = {"connected", "transferred", "ended",
                                                   "abandoned", "fallback", "overflowed"};
  if (record.history.size() >= kMaxHistory &&
      (record.history.size() >= 2 * kMaxHistory || !kEssential.contains(what))) {
    return;
  }
  acd::v1::CallHistoryEntry& entry = record.history.emplace_back();
  *entry.mutable_at() = ToProto(Now());
  entry.set_what(std::move(what));
  entry.set_detail(std::move(detail));
}

void Engine::DropOffer(CallRecord& record) {
  if (record.offer && !record.offer_delivered) {
    DropFromOutbox(record.switch_id, record.offer->sequence());
  }
  record.offer.reset();
}

void Engine::Finish(CallRecord& record, const std::string& call_id, CallState state) {
  record.final_state = state;
  DropOffer(record);
  ended_.emplace_back(Now(), call_id);
  while (ended_.size() > options_.max_finished_calls) {
    auto oldest = calls_.find(ended_.front().second);
    if (oldest != calls_.end() && oldest->second.final_state != acd::v1::CALL_STATE_UNSPECIFIED &&
        &oldest->second != &record) {
      calls_.erase(oldest);
    }
    ended_.pop_front();
  }
}

void Engine::Dispatch(const Decision& d) {
  auto it = calls_.find(d.call_id);
  if (d.kind == Decision::Kind::kAgentMadeNotReady) {
    Log(absl::StrCat("agent ", d.agent_id, " is now not_ready(", d.reason, ")"));
    return;
  }
  if (it == calls_.end()) {
    Log(absl::StrCat("decision for unknown call ", d.call_id));  // can't happen: records outlive calls
    return;
  }
  CallRecord& record = it->second;
  acd::v1::Command command;
  switch (d.kind) {
    case Decision::Kind::kOfferCall: {
      record.agent_id = d.agent_id;
      AddHistory(record, "offered", d.agent_id);
      acd::v1::OfferCall* offer = command.mutable_offer_call();
      offer->set_call_id(d.call_id);
      offer->set_agent_id(d.agent_id);
      offer->set_queue(d.queue);
      if (auto q = router_.policy().FindQueue(d.queue)) {
        offer->set_offer_timeout_seconds(
            absl::ToDoubleSeconds(router_.policy().queues[*q].offer_timeout));
      }
      *offer->mutable_attributes() = record.request.attributes();
      offer->set_waited_seconds(absl::ToDoubleSeconds(Now() - record.arrived));
      *offer->mutable_context() = record.context;
      break;
    }
    case Decision::Kind::kCancelOffer:
      AddHistory(record, "offer_cancelled", absl::StrCat(d.agent_id, ": ", d.reason));
      DropOffer(record);
      command.mutable_cancel_offer()->set_call_id(d.call_id);
      command.mutable_cancel_offer()->set_agent_id(d.agent_id);
      command.mutable_cancel_offer()->set_reason(d.reason);
      break;
    case Decision::Kind::kSendToFallback:
      AddHistory(record, "fallback", absl::StrCat(d.target, " (", d.reason, ")"));
      Finish(record, d.call_id, acd::v1::CALL_STATE_FALLBACK);
      command.mutable_send_to_fallback()->set_call_id(d.call_id);
      command.mutable_send_to_fallback()->set_queue(d.queue);
      command.mutable_send_to_fallback()->set_target(d.target);
      command.mutable_send_to_fallback()->set_reason(d.reason);
      break;
    case Decision::Kind::kCallOverflowed:
      AddHistory(record, "overflowed", absl::StrCat(d.from_queue, " -> ", d.queue));
      return;
    case Decision::Kind::kAgentMadeNotReady:
      return;
  }
  SendCommand(record.switch_id, std::move(command));
  if (d.kind == Decision::Kind::kOfferCall) {
    record.offer = switches_[record.switch_id].outbox.back();
    record.offer_delivered = false;
  }
}

void Engine::SendCommand(const std::string& switch_id, acd::v1::Command command) {
  SwitchLink& link = switches_[switch_id];
  command.set_sequence(link.next_sequence++);
  *command.mutable_at() = ToProto(Now());
  if (link.outbox.size() >= options_.max_outbox) {
    Log(absl::StrCat("switch ", switch_id, " has not read its commands; dropping the oldest"));
    link.outbox.pop_front();
  }
  link.outbox.push_back(command);
  if (link.stream == nullptr) return;
  if (link.stream->backlog() >= options_.max_stream_backlog) {
    Log(absl::StrCat("switch ", switch_id, " reads its commands too slowly; closing its stream "
                     "(commands wait in the outbox for the reconnect)"));
    link.stream->Abort(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                    "command stream backlog too large; reconnect"));
    link.stream = nullptr;
    return;
  }
  link.stream->Send(std::move(command));
}

void Engine::DropFromOutbox(const std::string& switch_id, uint64_t sequence) {
  auto link = switches_.find(switch_id);
  if (link == switches_.end()) return;
  std::deque<acd::v1::Command>& outbox = link->second.outbox;
  // The outbox is in sequence order.
  auto it = std::lower_bound(outbox.begin(), outbox.end(), sequence,
                             [](const acd::v1::Command& c, uint64_t s) { return c.sequence() < s; });
  if (it != outbox.end() && it->sequence() == sequence) outbox.erase(it);
}

void Engine::OnCommandWritten(const std::string& switch_id, const acd::v1::Command& command) {
  DropFromOutbox(switch_id, command.sequence());
  if (command.has_offer_call()) {
    auto it = calls_.find(command.offer_call().call_id());
    if (it != calls_.end() && it->second.offer &&
        it->second.offer->sequence() == command.sequence()) {
      it->second.offer_delivered = true;
    }
  }
}

void Engine::OpenCommandStream(const std::string& switch_id, CommandWriter* stream) {
  SwitchLink& link = switches_[switch_id];
  if (link.stream != nullptr) {
    // Stop the old stream now, unflushed: what it has not written goes out on the new one.
    link.stream->Abort(grpc::Status(grpc::StatusCode::ABORTED,
                                    "another command stream for this switch took over"));
  }
  link.stream = stream;
  // Undelivered commands first. Offers answered or withdrawn meanwhile no longer apply.
  std::erase_if(link.outbox, [&](const acd::v1::Command& command) {
    if (!command.has_offer_call()) return false;
    auto it = calls_.find(command.offer_call().call_id());
    return it == calls_.end() || !it->second.offer ||
           it->second.offer->sequence() != command.sequence();
  });
  for (const acd::v1::Command& command : link.outbox) stream->Send(command);
  // Offers delivered on the old stream that are still outstanding: the switch may have lost them.
  for (auto& [call_id, record] : calls_) {
    if (record.switch_id == switch_id && record.offer && record.offer_delivered) {
      acd::v1::Command again = *record.offer;
      again.set_resent(true);
      stream->Send(std::move(again));
    }
  }
}

void Engine::CommandStreamGone(const std::string& switch_id, CommandWriter* stream) {
  auto it = switches_.find(switch_id);
  if (it != switches_.end() && it->second.stream == stream) it->second.stream = nullptr;
}

void Engine::QueueWatchGone(QueueWatchWriter* stream) {
  auto it = watches_.find(stream);
  if (it == watches_.end()) return;
  it->second.timer->cancel();
  watches_.erase(it);
}

void Engine::SweepEndedCalls() {
  const absl::Time now = Now();
  while (!ended_.empty() && ended_.front().first + options_.call_retention <= now) {
    auto it = calls_.find(ended_.front().second);
    if (it != calls_.end() && it->second.final_state != acd::v1::CALL_STATE_UNSPECIFIED) {
      calls_.erase(it);
    }
    ended_.pop_front();
  }
  sweep_.expires_after(absl::ToChronoNanoseconds(kSweepEvery));
  sweep_.async_wait([this](const asio::error_code& error) {
    if (!error && !stopping_) SweepEndedCalls();
  });
}

// ---------------------------------------------------------------------------------------------
// Switch side.

CallState Engine::LiveState(const std::string& call_id, const CallRecord& record) const {
  if (record.final_state != acd::v1::CALL_STATE_UNSPECIFIED) return record.final_state;
  std::optional<routing::CallState> state = router_.CallStateOf(call_id);
  return state ? CallStateToProto(*state) : acd::v1::CALL_STATE_UNSPECIFIED;
}

grpc::Status Engine::EnqueueCall(const acd::v1::EnqueueCallRequest& request,
                                 acd::v1::EnqueueCallResponse* response) {
  auto existing = calls_.find(request.call_id());
  if (existing != calls_.end()) {
    if (existing->second.switch_id != request.switch_id()) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          absl::StrCat("call_id '", request.call_id(),
                                       "' is in use by switch '", existing->second.switch_id, "'"));
    }
    if (!google::protobuf::util::MessageDifferencer::Equals(existing->second.request, request)) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          absl::StrCat("call_id '", request.call_id(),
                                       "' is in use for another call (queue '",
                                       existing->second.request.queue(),
                                       "'); a retry must repeat the request exactly"));
    }
    *response = existing->second.first_response;  // a retry: the original answer
    return grpc::Status::OK;
  }
  if (draining_) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "acdd is shutting down; not taking calls");
  }
  routing::CallSpec spec;
  spec.call_id = request.call_id();
  spec.queue = request.queue();
  if (request.channel() != acd::v1::CHANNEL_UNSPECIFIED) {
    spec.channel = routing::ChannelFromProto(request.channel());
  }
  for (const auto& r : request.required_skills()) {
    spec.required_skills.push_back({r.skill(), r.min_proficiency()});
  }
  spec.priority = request.priority();
  spec.tier = request.tier();
  spec.language = request.language();
  spec.preferred_agent = request.preferred_agent();
  for (const auto& [key, value] : request.attributes()) spec.attributes.emplace_back(key, value);
  std::sort(spec.attributes.begin(), spec.attributes.end());

  CallRecord& record = calls_[request.call_id()];
  record.switch_id = request.switch_id();
  record.request = request;
  record.arrived = Now();
  absl::StatusOr<routing::EnqueueResult> result = router_.Enqueue(spec, record.arrived);
  if (!result.ok()) {
    calls_.erase(request.call_id());
    return ToGrpcStatus(result.status());
  }
  AddHistory(record, "enqueued", request.queue());
  switch (result->disposition) {
    case routing::EnqueueResult::Disposition::kQueued:
      response->set_disposition(acd::v1::EnqueueCallResponse::DISPOSITION_QUEUED);
      break;
    case routing::EnqueueResult::Disposition::kOffered:
      response->set_disposition(acd::v1::EnqueueCallResponse::DISPOSITION_OFFERED);
      break;
    case routing::EnqueueResult::Disposition::kSentToFallback:
      response->set_disposition(acd::v1::EnqueueCallResponse::DISPOSITION_SENT_TO_FALLBACK);
      break;
  }
  response->set_position(result->position);
  response->set_expected_wait_seconds(
      result->expected_wait ? absl::ToDoubleSeconds(*result->expected_wait) : -1);
  response->set_fallback(result->fallback);
  record.first_response = *response;
  AfterEvent();
  return grpc::Status::OK;
}

grpc::Status Engine::ReportCallEvent(const acd::v1::CallEvent& event,
                                     acd::v1::CallEventResponse* response) {
  auto it = calls_.find(event.call_id());
  if (it == calls_.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no call '", event.call_id(), "'"));
  }
  CallRecord& record = it->second;
  if (record.switch_id != event.switch_id()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("call '", event.call_id(), "' belongs to switch '",
                                     record.switch_id, "'"));
  }
  // What the event is about: an answer to an offer names the offer ringing at that agent;
  // `answered` and a transfer name the connection (the offer that agent accepted). Events carry
  // that offer's command sequence in offer_sequence to make retries exact.
  const bool about_offer = event.has_offer_accepted() || event.has_offer_rejected() ||
                           event.has_offer_no_answer() || event.has_answered();
  const bool about_connection = event.has_answered() || event.has_transfer_requested();
  const bool connected_here = about_connection && record.agent_id == event.agent_id() &&
                              LiveState(event.call_id(), record) == acd::v1::CALL_STATE_CONNECTED;
  uint64_t sequence = 0;
  if (about_offer && record.offer && record.agent_id == event.agent_id()) {
    sequence = record.offer->sequence();
  } else if (about_connection && connected_here) {
    sequence = record.connected_sequence;
  }
  auto stored = [&](uint64_t seq) -> const CallRecord::Answer* {
    for (auto a = record.answers.rbegin(); a != record.answers.rend(); ++a) {
      if (a->event != event.event_case()) continue;
      if (!about_offer && !about_connection) return &*a;  // abandoned, ended: once per call
      if (a->agent_id == event.agent_id() && (seq == 0 || a->offer_sequence == seq)) return &*a;
    }
    return nullptr;
  };
  if ((about_offer || about_connection) && event.offer_sequence() != 0 &&
      event.offer_sequence() != sequence) {
    // It names an offer or connection that is over: a retry of what was answered then, or late.
    if (const CallRecord::Answer* answer = stored(event.offer_sequence())) {
      response->set_state(answer->state);
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("offer ", event.offer_sequence(), " of call '", event.call_id(),
                                     "' to '", event.agent_id(),
                                     "' is no longer ringing or connected"));
  }
  // Without a sequence: an event about the current offer or connection is new unless it was
  // answered already; one about none repeats the last answer of its kind from that agent.
  if (!event.has_hold_started() && !event.has_hold_ended()) {
    if (const CallRecord::Answer* answer = stored(sequence)) {
      if (sequence == 0 || answer->offer_sequence == sequence) {
        response->set_state(answer->state);
        return grpc::Status::OK;
      }
    }
  }
  const uint64_t offer_sequence = sequence;
  if (record.final_state != acd::v1::CALL_STATE_UNSPECIFIED) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("call '", event.call_id(), "' has already left acd (",
                                     acd::v1::CallState_Name(record.final_state), ")"));
  }
  const absl::Time now = Now();
  absl::Status status;
  const std::string& call_id = event.call_id();
  switch (event.event_case()) {
    case acd::v1::CallEvent::kOfferAccepted:
      status = router_.OfferAccepted(call_id, event.agent_id(), now);
      if (status.ok()) {
        record.connected_sequence = record.offer ? record.offer->sequence() : 0;
        DropOffer(record);
        AddHistory(record, "connected", event.agent_id());
      }
      break;
    case acd::v1::CallEvent::kOfferRejected:
      status = router_.OfferRejected(call_id, event.agent_id(), now);
      if (status.ok()) {
        DropOffer(record);
        AddHistory(record, "offer_rejected",
                   absl::StrCat(event.agent_id(), event.offer_rejected().reason().empty() ? "" : ": ",
                                event.offer_rejected().reason()));
      }
      break;
    case acd::v1::CallEvent::kOfferNoAnswer:
      status = router_.OfferNotAnswered(call_id, event.agent_id(), now);
      if (status.ok()) {
        DropOffer(record);
        AddHistory(record, "offer_no_answer", event.agent_id());
      }
      break;
    case acd::v1::CallEvent::kCallerAbandoned: {
      const bool connected = LiveState(call_id, record) == acd::v1::CALL_STATE_CONNECTED;
      status = router_.Abandon(call_id, now);
      if (status.ok()) {
        EndHold(record, now);
        AddHistory(record, connected ? "ended" : "abandoned", "caller hung up");
        Finish(record, call_id,
               connected ? acd::v1::CALL_STATE_ENDED : acd::v1::CALL_STATE_ABANDONED);
      }
      break;
    }
    case acd::v1::CallEvent::kCallEnded:
      status = router_.EndCall(call_id, now);
      if (status.ok()) {
        EndHold(record, now);
        AddHistory(record, "ended", record.agent_id);
        Finish(record, call_id, acd::v1::CALL_STATE_ENDED);
      }
      break;
    case acd::v1::CallEvent::kAnswered:
      status = Answered(record, call_id, event.agent_id(), now);
      break;
    case acd::v1::CallEvent::kTransferRequested:
      status = Transfer(record, call_id, event, now);
      break;
    case acd::v1::CallEvent::kHoldStarted:
    case acd::v1::CallEvent::kHoldEnded: {
      // Holds are judged by state, not stored answers: a repeat while on hold (or after the hold
      // ended) is a no-op, and a call may be held many times.
      if (!event.agent_id().empty() && event.agent_id() != record.agent_id) {
        status = absl::FailedPreconditionError(absl::StrCat(
            "agent '", event.agent_id(), "' is not on call '", call_id, "'"));
      } else {
        status = event.has_hold_started()
                     ? StartHold(record, call_id, event.hold_started(), now)
                     : StopHold(record, event.hold_ended().hold_id(), now);
      }
      AfterEvent();
      response->set_state(LiveState(call_id, record));
      return ToGrpcStatus(status);
    }
    case acd::v1::CallEvent::EVENT_NOT_SET:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "event: set one event");
  }
  AfterEvent();
  CallRecord& after = calls_.at(call_id);
  response->set_state(LiveState(call_id, after));
  if (!status.ok()) return ToGrpcStatus(status);
  after.answers.push_back({event.event_case(), event.agent_id(), offer_sequence, response->state()});
  return grpc::Status::OK;
}

absl::Status Engine::Answered(CallRecord& record, const std::string& call_id,
                              const std::string& agent_id, absl::Time now) {
  const acd::v1::CallState state = LiveState(call_id, record);
  if (state == acd::v1::CALL_STATE_OFFERED && record.agent_id == agent_id) {
    absl::Status accepted = router_.OfferAccepted(call_id, agent_id, now);
    if (!accepted.ok()) return accepted;
    record.connected_sequence = record.offer ? record.offer->sequence() : 0;
    DropOffer(record);
    AddHistory(record, "connected", agent_id);
  }
  if (LiveState(call_id, record) != acd::v1::CALL_STATE_CONNECTED || record.agent_id != agent_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "call '", call_id, "' is not ringing or connected at agent '", agent_id, "'"));
  }
  AddHistory(record, "answered", agent_id);
  return absl::OkStatus();
}

absl::Status Engine::Transfer(CallRecord& record, const std::string& call_id,
                              const acd::v1::CallEvent& event, absl::Time now) {
  const acd::v1::TransferRequested& transfer = event.transfer_requested();
  std::optional<routing::CallView> before = router_.FindCall(call_id);
  const std::string from_queue = before ? before->queue : "";
  routing::TransferTarget target;
  target.queue = transfer.queue();
  target.agent_id = transfer.agent_id();
  absl::StatusOr<routing::EnqueueResult> moved = router_.Transfer(call_id, event.agent_id(), target, now);
  if (!moved.ok()) return moved.status();
  EndHold(record, now);
  acd::v1::CallContext& context = record.context;
  context.set_transfers(context.transfers() + 1);
  context.add_previous_queues(from_queue);
  context.add_previous_agents(event.agent_id());
  context.set_transfer_reason(transfer.reason());
  if (!transfer.notes().empty()) context.add_notes(transfer.notes());
  record.agent_id.clear();
  AddHistory(record, "transferred",
             absl::StrCat(event.agent_id(), " -> ",
                          transfer.has_queue() ? absl::StrCat("queue ", transfer.queue())
                                               : absl::StrCat("agent ", transfer.agent_id()),
                          transfer.reason().empty() ? "" : ": ", transfer.reason()));
  return absl::OkStatus();
}

absl::Status Engine::StartHold(CallRecord& record, const std::string& call_id,
                               const acd::v1::HoldStarted& hold, absl::Time now) {
  if (LiveState(call_id, record) != acd::v1::CALL_STATE_CONNECTED) {
    return absl::FailedPreconditionError(
        absl::StrCat("call '", call_id, "' is not connected to an agent; only a connected caller "
                     "can be put on hold"));
  }
  const std::string& id = hold.hold_id();
  if (!id.empty() && std::find(record.hold_ids.begin(), record.hold_ids.end(), id) !=
                         record.hold_ids.end()) {
    return absl::OkStatus();  // this hold was started already: a retry
  }
  if (record.on_hold_since) {
    if (!id.empty() && !record.current_hold_id.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("the caller is already on hold ('",
                                                        record.current_hold_id, "')"));
    }
    return absl::OkStatus();  // a repeat
  }
  if (!id.empty() && record.hold_ids.size() < 100) record.hold_ids.push_back(id);
  record.current_hold_id = id;
  record.on_hold_since = now;
  record.hold_count++;
  AddHistory(record, "hold_started",
             absl::StrCat(hold.reason().empty() ? "no reason given" : hold.reason(),
                          hold.caller_consented() ? ", caller consented" : ", no consent recorded",
                          hold.expected_seconds() > 0
                              ? absl::StrCat(", expected ", hold.expected_seconds(), " s")
                              : ""));
  return absl::OkStatus();
}

absl::Status Engine::StopHold(CallRecord& record, const std::string& hold_id, absl::Time now) {
  if (!hold_id.empty() && record.on_hold_since && hold_id != record.current_hold_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("the caller is on hold '", record.current_hold_id, "', not '", hold_id, "'"));
  }
  if (!record.on_hold_since) {
    const bool known = hold_id.empty() ? record.hold_count > 0
                                       : std::find(record.hold_ids.begin(), record.hold_ids.end(),
                                                   hold_id) != record.hold_ids.end();
    if (known) return absl::OkStatus();  // a repeat of a hold's end
    return absl::FailedPreconditionError("the call is not on hold");
  }
  const absl::Duration held = now - *record.on_hold_since;
  EndHold(record, now);
  AddHistory(record, "hold_ended", absl::StrCat(absl::ToDoubleSeconds(held), " s"));
  return absl::OkStatus();
}

void Engine::EndHold(CallRecord& record, absl::Time now) {
  if (!record.on_hold_since) return;
  record.hold_total += now - *record.on_hold_since;
  record.on_hold_since.reset();
}

grpc::Status Engine::ListCalls(const acd::v1::ListCallsRequest& request,
                               acd::v1::ListCallsResponse* response) {
  for (const auto& [call_id, record] : calls_) {
    if (record.switch_id != request.switch_id()) continue;
    if (record.final_state != acd::v1::CALL_STATE_UNSPECIFIED) continue;
    FillCallInfo(call_id, record, response->add_calls());
  }
  std::sort(response->mutable_calls()->begin(), response->mutable_calls()->end(),
            [](const acd::v1::CallInfo& a, const acd::v1::CallInfo& b) {
              return a.call_id() < b.call_id();
            });
  return grpc::Status::OK;
}

void Engine::FillCallInfo(const std::string& call_id, const CallRecord& record,
                          acd::v1::CallInfo* info) const {
  info->set_call_id(call_id);
  info->set_switch_id(record.switch_id);
  info->set_queue(record.request.queue());
  info->set_state(LiveState(call_id, record));
  info->set_expected_wait_seconds(-1);
  *info->mutable_arrived() = ToProto(record.arrived);
  if (std::optional<routing::CallView> view = router_.FindCall(call_id)) {
    info->set_queue(view->queue);
    info->set_position(view->position);
    info->set_agent_id(view->agent_id);
    info->set_priority(view->priority);
    if (std::optional<absl::Duration> wait = router_.ExpectedWaitOf(call_id)) {
      info->set_expected_wait_seconds(absl::ToDoubleSeconds(*wait));
    }
  } else {
    info->set_agent_id(record.agent_id);
  }
  for (const auto& entry : record.history) *info->add_history() = entry;
  info->set_on_hold(record.on_hold_since.has_value());
  info->set_hold_count(record.hold_count);
  absl::Duration held = record.hold_total;
  if (record.on_hold_since) held += Now() - *record.on_hold_since;
  info->set_hold_seconds(absl::ToDoubleSeconds(held));
  *info->mutable_context() = record.context;
}

// ---------------------------------------------------------------------------------------------
// Agents.

bool Engine::FillAgentInfo(const std::string& agent_id, acd::v1::AgentInfo* info) const {
  std::optional<routing::AgentView> view = router_.FindAgent(agent_id);
  if (!view) return false;
  info->set_agent_id(agent_id);
  info->set_state(AgentStateToProto(view->state));
  info->set_not_ready_reason(view->not_ready_reason);
  for (const std::string& q : view->queues) info->add_queues(q);
  info->set_calls_handled(view->calls_handled);
  info->set_missed_offers_in_a_row(view->missed_offers_in_a_row);
  *info->mutable_idle_since() = ToProto(view->idle_since);
  return true;
}

grpc::Status Engine::Login(const acd::v1::LoginRequest& request, acd::v1::AgentInfo* response) {
  auto existing = logins_.find(request.agent_id());
  if (existing != logins_.end()) {
    if (google::protobuf::util::MessageDifferencer::Equals(existing->second, request)) {
      FillAgentInfo(request.agent_id(), response);  // a retry of the same login
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                        absl::StrCat("agent '", request.agent_id(),
                                     "' is already logged in with other settings; log out first"));
  }
  routing::AgentSpec spec;
  spec.agent_id = request.agent_id();
  for (const auto& s : request.skills()) spec.skills.push_back({s.skill(), s.proficiency()});
  spec.languages.assign(request.languages().begin(), request.languages().end());
  for (const auto& c : request.capacity()) {
    if (c.channel() == acd::v1::CHANNEL_UNSPECIFIED || !acd::v1::Channel_IsValid(c.channel())) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "capacity: name the channel (voice, chat, email, sms, social, video)");
    }
    spec.capacity.emplace_back(routing::ChannelFromProto(c.channel()), c.max());
  }
  spec.queues.assign(request.queues().begin(), request.queues().end());
  spec.ready = request.ready();
  absl::Status status = router_.Login(spec, Now());
  if (!status.ok()) return ToGrpcStatus(status);
  logins_[request.agent_id()] = request;
  FillAgentInfo(request.agent_id(), response);
  AfterEvent();
  return grpc::Status::OK;
}

grpc::Status Engine::SetAgentState(const acd::v1::SetAgentStateRequest& request,
                                   acd::v1::AgentInfo* response) {
  absl::Status status;
  switch (request.change_case()) {
    case acd::v1::SetAgentStateRequest::kReady:
      status = router_.SetReady(request.agent_id(), Now());
      break;
    case acd::v1::SetAgentStateRequest::kNotReady:
      status = router_.SetNotReady(request.agent_id(), request.not_ready().reason(), Now());
      break;
    case acd::v1::SetAgentStateRequest::kEndWrapUp:
      status = router_.EndWrapUp(request.agent_id(), Now());
      break;
    case acd::v1::SetAgentStateRequest::CHANGE_NOT_SET:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "change: set one of ready, not_ready, end_wrap_up");
  }
  if (!status.ok()) return ToGrpcStatus(status);
  AfterEvent();
  FillAgentInfo(request.agent_id(), response);
  return grpc::Status::OK;
}

grpc::Status Engine::Logout(const acd::v1::LogoutRequest& request) {
  absl::Status status = router_.Logout(request.agent_id(), Now());
  if (!status.ok()) return ToGrpcStatus(status);
  logins_.erase(request.agent_id());
  AfterEvent();
  return grpc::Status::OK;
}

// ---------------------------------------------------------------------------------------------
// Operations.

grpc::Status Engine::ListQueues(acd::v1::ListQueuesResponse* response) {
  const absl::Time now = Now();
  *response->mutable_at() = ToProto(now);
  for (const routing::CompiledQueue& queue : router_.policy().queues) {
    absl::StatusOr<routing::QueueView> view = router_.Queue(queue.name);
    if (!view.ok()) continue;
    acd::v1::QueueInfo* info = response->add_queues();
    info->set_queue(queue.name);
    info->set_channel(queue.source.channel() == acd::v1::CHANNEL_UNSPECIFIED
                          ? acd::v1::CHANNEL_VOICE
                          : queue.source.channel());
    info->set_calls_waiting(view->calls_waiting);
    info->set_oldest_wait_seconds(
        view->oldest_arrival ? absl::ToDoubleSeconds(now - *view->oldest_arrival) : 0);
    info->set_expected_wait_seconds(
        view->expected_wait_for_new_call ? absl::ToDoubleSeconds(*view->expected_wait_for_new_call)
                                         : -1);
    info->set_staffed_agents(view->staffed_agents);
    for (int s = 0; s < routing::kAgentStateCount; ++s) {
      if (view->agents_by_state[s] == 0) continue;
      (*info->mutable_agents_by_state())[std::string(
          routing::AgentStateName(static_cast<routing::AgentState>(s)))] = view->agents_by_state[s];
    }
  }
  return grpc::Status::OK;
}

grpc::Status Engine::ListAgents(const acd::v1::ListAgentsRequest& request,
                                acd::v1::ListAgentsResponse* response) {
  if (!request.queue().empty() && !router_.policy().FindQueue(request.queue())) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("queue '", request.queue(), "' does not exist"));
  }
  std::vector<std::string> ids;
  for (const auto& [agent_id, login] : logins_) ids.push_back(agent_id);
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    acd::v1::AgentInfo info;
    if (!FillAgentInfo(id, &info)) continue;
    if (!request.queue().empty() &&
        std::find(info.queues().begin(), info.queues().end(), request.queue()) ==
            info.queues().end()) {
      continue;
    }
    *response->add_agents() = std::move(info);
  }
  return grpc::Status::OK;
}

grpc::Status Engine::GetCall(const acd::v1::GetCallRequest& request, acd::v1::CallInfo* response) {
  auto it = calls_.find(request.call_id());
  if (it == calls_.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no call '", request.call_id(),
                                     "' (finished calls are kept for ",
                                     absl::FormatDuration(options_.call_retention), ")"));
  }
  FillCallInfo(it->first, it->second, response);
  return grpc::Status::OK;
}

grpc::Status Engine::GetPolicy(acd::v1::PolicyInfo* response) {
  *response->mutable_policy() = router_.policy().source;
  response->set_yaml(routing::PolicyToYaml(router_.policy().source));
  *response->mutable_applied_at() = ToProto(policy_applied_at_);
  response->set_source(policy_source_);
  return grpc::Status::OK;
}

grpc::Status Engine::ApplyPolicy(std::shared_ptr<const routing::CompiledPolicy> policy,
                                 const std::string& source) {
  absl::Status status = router_.ReplacePolicy(std::move(policy), Now());
  if (!status.ok()) return ToGrpcStatus(status);
  const std::string replaced = policy_source_;
  policy_source_ = source;
  policy_applied_at_ = Now();
  AfterEvent();
  Log(absl::StrCat("policy '", router_.policy().source.name(), "' from ", source,
                   " applied, replacing the one from ", replaced));
  return grpc::Status::OK;
}

grpc::Status Engine::SetPolicy(const acd::v1::SetPolicyRequest& request,
                               acd::v1::SetPolicyResponse* response) {
  acd::v1::Policy proto;
  std::vector<routing::PolicyProblem> problems;
  routing::PolicySourceMap where;
  switch (request.source_case()) {
    case acd::v1::SetPolicyRequest::kPolicy:
      proto = request.policy();
      break;
    case acd::v1::SetPolicyRequest::kYaml:
      routing::ParsePolicyYaml(request.yaml(), &proto, &problems, &where);
      break;
    case acd::v1::SetPolicyRequest::SOURCE_NOT_SET:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "source: give policy or yaml");
  }
  if (problems.empty()) {
    problems = routing::ValidatePolicy(proto);
    where.Annotate(&problems);
  }
  std::shared_ptr<const routing::CompiledPolicy> compiled;
  if (problems.empty()) {
    // A dry run answers what the apply would: the policy must also fit the calls live now.
    absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> c = routing::CompilePolicy(proto);
    if (!c.ok()) return ToGrpcStatus(c.status());
    compiled = *c;
    if (absl::Status fits = router_.CanReplacePolicy(*compiled); !fits.ok()) {
      if (!request.validate_only()) return ToGrpcStatus(fits);
      problems.push_back(routing::PolicyProblem{"", std::string(fits.message())});
    }
  }
  for (const routing::PolicyProblem& p : problems) {
    acd::v1::PolicyProblem* out = response->add_problems();
    out->set_path(p.path);
    out->set_message(p.message);
    out->set_line(p.line);
    out->set_column(p.column);
  }
  if (problems.empty()) {
    response->set_diff(UnifiedDiff(routing::PolicyToYaml(router_.policy().source),
                                   routing::PolicyToYaml(proto), "running", "new"));
  }
  if (request.validate_only()) return grpc::Status::OK;
  if (!problems.empty()) {
    return ToGrpcStatus(routing::PolicyProblemsToStatus(problems, "policy"));
  }
  grpc::Status applied = ApplyPolicy(compiled, "admin api");
  response->set_applied(applied.ok());
  return applied;
}

void Engine::ReloadPolicyText(const std::string& yaml, const std::string& source) {
  absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> compiled =
      routing::CompilePolicyText(yaml, source);
  if (!compiled.ok()) {
    Log(absl::StrCat("reload refused, the running policy stays: ", compiled.status().message()));
    return;
  }
  grpc::Status applied = ApplyPolicy(*compiled, source);
  if (!applied.ok()) {
    Log(absl::StrCat("reload refused, the running policy stays: ", applied.error_message()));
  }
}

void Engine::OpenQueueWatch(QueueWatchWriter* stream, absl::Duration interval) {
  QueueWatch& watch = watches_[stream];
  watch.stream = stream;
  watch.interval = interval;
  watch.timer = std::make_unique<asio::steady_timer>(io_);
  TickWatch(stream);
}

void Engine::TickWatch(QueueWatchWriter* stream) {
  auto it = watches_.find(stream);
  if (it == watches_.end() || !stream->open()) return;
  if (stream->backlog() == 0) {  // a wallboard that reads slowly skips snapshots, never queues them
    acd::v1::ListQueuesResponse snapshot;
    ListQueues(&snapshot);
    stream->Send(std::move(snapshot));
  }
  it->second.timer->expires_after(absl::ToChronoNanoseconds(it->second.interval));
  it->second.timer->async_wait([this, stream](const asio::error_code& error) {
    if (!error && !stopping_) TickWatch(stream);
  });
}

size_t Engine::open_streams() const {
  size_t open = watches_.size();
  for (const auto& [switch_id, link] : switches_) open += link.stream != nullptr;
  return open;
}

void Engine::BeginDrain() {
  draining_ = true;
  for (auto& [switch_id, link] : switches_) {
    if (link.stream != nullptr) link.stream->Close(grpc::Status::OK);
  }
  for (auto& [stream, watch] : watches_) {
    watch.timer->cancel();
    stream->Close(grpc::Status::OK);
  }
  Log("draining: no new calls; streams closed");
}

}  // namespace acd::daemon
