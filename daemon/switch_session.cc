#include "daemon/switch_session.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/grpc_status.h"
#include "daemon/request_checks.h"
#include "routing/quote.h"

namespace acd::daemon {
namespace {

constexpr char kMethod[] = "/acd.v1.SwitchService/Session";

using acd::metrics::SessionRequest;
using acd::v1::SwitchMessage;

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

SessionRequest KindOf(const SwitchMessage& message) {
  switch (message.message_case()) {
    case SwitchMessage::kOpen:
      return SessionRequest::kOpen;
    case SwitchMessage::kEnqueueCall:
      return SessionRequest::kEnqueueCall;
    case SwitchMessage::kCallEvent:
      return SessionRequest::kCallEvent;
    case SwitchMessage::kListCalls:
      return SessionRequest::kListCalls;
    case SwitchMessage::kSetAgentState:
      return SessionRequest::kSetAgentState;
    case SwitchMessage::kPing:
      return SessionRequest::kPing;
    case SwitchMessage::MESSAGE_NOT_SET:
      break;
  }
  return SessionRequest::kUnset;
}

}  // namespace

SwitchSession::SwitchSession(Engine* engine, const Access* access, Caller caller)
    : SessionWriter(
          engine->io(), /*on_written=*/nullptr,
          [this](SessionWriter*) {
            if (!switch_id_.empty()) engine_->CommandStreamGone(switch_id_, this);
          },
          /*merge=*/true),
      engine_(engine),
      access_(access),
      caller_(std::move(caller)) {
  engine_->metrics().sessions_open.fetch_add(1, std::memory_order_relaxed);
  StartRead(&incoming_);
}

// ---------------------------------------------------------------------------------------------
// gRPC's threads.

void SwitchSession::OnReadDone(bool ok) {
  if (!ok) {  // the switch closed its side, or the stream broke
    {
      absl::MutexLock lock(&inbox_mu_);
      reads_done_ = true;
    }
    WakeEngine();
    return;
  }
  // Taken out first: once reading is paused below, a write's completion may start the next read
  // into incoming_ on another thread.
  acd::v1::SessionRequest read;
  read.Swap(&incoming_);
  grpc::Status refused;
  acd::v1::SessionResponse pongs;
  bool keep_reading = true;
  bool for_the_engine = false;
  {
    absl::MutexLock lock(&inbox_mu_);
    for (SwitchMessage& message : *read.mutable_messages()) {
      if (message.has_ping() && open_read_) {  // answered here, without the engine
        acd::v1::AcdMessage* pong = pongs.add_messages();
        pong->set_request_id(message.request_id());
        pong->mutable_status();
        pong->mutable_pong();
        continue;
      }
      refused = Take(message);
      if (!refused.ok()) break;
    }
    if (refused.ok()) {
      for_the_engine = !inbox_.empty();
      // Pongs count too: a switch that pings and never reads stops being read.
      keep_reading = !MustPauseReadingLocked();
      reading_paused_ = !keep_reading;
    }
  }
  if (for_the_engine) WakeEngine();
  for (int i = 0; i < pongs.messages_size(); ++i) {
    engine_->metrics().CountSessionRequest(SessionRequest::kPing, 0);
  }
  if (pongs.messages_size() > 0) Send(std::move(pongs));
  if (!refused.ok()) {
    Abort(refused);
    return;
  }
  if (keep_reading) StartRead(&incoming_);
}

grpc::Status SwitchSession::Take(SwitchMessage& message) {
  if (!open_read_) {
    if (!message.has_open()) {
      return Invalid("the first message on a session must be `open`, naming the switch");
    }
    grpc::Status check = CheckId(message.open().switch_id(), "open.switch_id");
    if (check.ok()) {
      check = ToGrpcStatus(caller_.MayActForSwitch(message.open().switch_id(), kMethod));
    }
    if (!check.ok()) return check;
    open_read_ = true;
    switch_id_ = message.open().switch_id();
    inbox_.push_back({std::move(message), grpc::Status::OK});
    return grpc::Status::OK;
  }
  if (message.has_open()) {
    return Invalid(absl::StrCat("`open` comes once, first: this session is already switch ",
                                routing::Quote(switch_id_), "'s"));
  }
  grpc::Status check = CheckRequest(message);
  inbox_.push_back({std::move(message), std::move(check)});
  return grpc::Status::OK;
}

grpc::Status SwitchSession::CheckRequest(SwitchMessage& message) {
  // A switch's own requests: the session's switch is meant when they name none.
  std::string* switch_id = nullptr;
  switch (message.message_case()) {
    case SwitchMessage::kEnqueueCall:
      switch_id = message.mutable_enqueue_call()->mutable_switch_id();
      break;
    case SwitchMessage::kCallEvent:
      switch_id = message.mutable_call_event()->mutable_switch_id();
      break;
    case SwitchMessage::kListCalls:
      switch_id = message.mutable_list_calls()->mutable_switch_id();
      break;
    case SwitchMessage::kSetAgentState: {
      const acd::v1::SetAgentStateRequest& request = message.set_agent_state();
      if (absl::Status may = MaySetAgentState(caller_, request); !may.ok()) {
        return ToGrpcStatus(may);
      }
      return CheckSetAgentState(request);
    }
    default:
      return Invalid(
          "message: set one of open, enqueue_call, call_event, list_calls, set_agent_state, ping");
  }
  if (switch_id->empty()) {
    *switch_id = switch_id_;
  } else if (*switch_id != switch_id_) {
    return Invalid(absl::StrCat("switch_id: this session is switch ", routing::Quote(switch_id_),
                                "'s; leave switch_id empty or name that switch"));
  }
  switch (message.message_case()) {
    case SwitchMessage::kEnqueueCall:
      return CheckEnqueueCall(message.enqueue_call());
    case SwitchMessage::kCallEvent:
      return CheckCallEvent(message.call_event());
    default:
      return CheckListCalls(message.list_calls());
  }
}

bool SwitchSession::MessageWritten(acd::v1::SessionResponse&& written) {
  size_t commands = 0;
  for (acd::v1::AcdMessage& message : *written.mutable_messages()) {
    if (!message.has_command()) continue;
    written_.push_back(std::move(*message.mutable_command()));
    ++commands;
  }
  commands_unwritten_.fetch_sub(commands, std::memory_order_relaxed);
  return commands > 0;
}

void SwitchSession::WakeEngine() {
  if (!engine_task_posted_.exchange(true, std::memory_order_acq_rel)) {
    engine_->Post([this] { RunEngineTask(); });
  }
}

bool SwitchSession::MustPauseReadingLocked() const {
  return inbox_.size() >= kMaxInbox || SessionWriter::backlog() >= engine_->max_stream_backlog();
}

void SwitchSession::WriteDone() {
  // Reading stopped while the inbox was full or the writes were behind; once the engine has
  // taken the inbox (this write answers something it took, or later) and the writes caught up,
  // read on.
  {
    absl::MutexLock lock(&inbox_mu_);
    if (!reading_paused_ || MustPauseReadingLocked()) return;
    reading_paused_ = false;
  }
  if (!finishing()) StartRead(&incoming_);
}

// ---------------------------------------------------------------------------------------------
// The engine thread.

void SwitchSession::RunEngineTask() {
  // Cleared first: whatever a gRPC thread adds from now on posts another task.
  engine_task_posted_.store(false, std::memory_order_release);
  CommandsWritten();
  std::vector<Request> requests;
  bool reads_done = false;
  {
    absl::MutexLock lock(&inbox_mu_);
    requests.swap(inbox_);
    reads_done = reads_done_;
  }
  engine_->RunTogether([&] {
    for (Request& request : requests) Handle(request);
  });
  if (reads_done) reads_finished_ = true;
  CloseIfFinished();
}

void SwitchSession::Handle(Request& request) {
  const SwitchMessage& message = request.message;
  const uint64_t id = message.request_id();
  if (message.has_open()) return Open(id);
  // A session that failed to open, was taken over or is closing: nobody will read the answer.
  if (!linked_ || !open()) return;
  acd::v1::AcdMessage answer;
  grpc::Status status = request.check;
  if (status.ok()) {
    switch (message.message_case()) {
      case SwitchMessage::kEnqueueCall:
        status = engine_->EnqueueCall(message.enqueue_call(), answer.mutable_enqueue_call());
        break;
      case SwitchMessage::kCallEvent:
        status = engine_->ReportCallEvent(message.call_event(), answer.mutable_call_event());
        break;
      case SwitchMessage::kListCalls:
        status = engine_->ListCalls(message.list_calls(), answer.mutable_list_calls());
        break;
      case SwitchMessage::kSetAgentState:
        status = engine_->SetAgentState(message.set_agent_state(), answer.mutable_agent());
        AuditAgentStateChange(caller_, message.set_agent_state(), status);
        break;
      default:  // refused by the checks already
        break;
    }
  }
  AnswerWhenDurable(KindOf(message), id, std::move(status), std::move(answer));
}

void SwitchSession::Open(uint64_t request_id) {
  if (engine_->draining()) {
    Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "acdd is shutting down"));
    return;
  }
  // Closes the session with the error, if any.
  grpc::Status status = engine_->OpenCommandStream(
      switch_id_, this,
      [access = access_, caller = caller_] { return access->StillAdmits(caller); });
  if (!status.ok()) {
    engine_->metrics().CountSessionRequest(SessionRequest::kOpen, status.error_code());
    return;
  }
  linked_ = true;
  acd::v1::AcdMessage answer;
  answer.mutable_opened()->set_switch_id(switch_id_);
  AnswerWhenDurable(SessionRequest::kOpen, request_id, grpc::Status::OK, std::move(answer));
}

void SwitchSession::AnswerWhenDurable(SessionRequest kind, uint64_t request_id, grpc::Status status,
                                      acd::v1::AcdMessage answer) {
  ++answers_waiting_;
  engine_->WhenDurable([this, kind, request_id, status = std::move(status),
                        answer = std::move(answer)](const grpc::Status& journal) mutable {
    --answers_waiting_;
    const grpc::Status& reply = journal.ok() ? status : journal;
    engine_->metrics().CountSessionRequest(kind, reply.error_code());
    if (!gone_) {
      answer.set_request_id(request_id);
      if (!reply.ok()) answer.clear_message();
      answer.mutable_status()->set_code(reply.error_code());
      answer.mutable_status()->set_message(reply.error_message());
      acd::v1::SessionResponse response;
      *response.add_messages() = std::move(answer);
      Send(std::move(response));
    }
    CloseIfFinished();
  });
}

void SwitchSession::SendCommand(acd::v1::Command command) {
  if (!open()) return;  // closing (e.g. the switch closed its side): it stays in the outbox
  commands_unwritten_.fetch_add(1, std::memory_order_relaxed);
  acd::v1::SessionResponse response;
  *response.add_messages()->mutable_command() = std::move(command);
  Send(std::move(response));
}

void SwitchSession::CommandsWritten() {
  std::vector<acd::v1::Command> written;
  {
    absl::MutexLock lock(&writer_mutex());
    written.swap(written_);
  }
  for (const acd::v1::Command& command : written) {
    engine_->OnCommandWritten(switch_id_, command, this);
  }
}

CommandSink::Delivered SwitchSession::TakeDelivered() {
  Delivered delivered;
  absl::MutexLock lock(&writer_mutex());
  delivered.written.swap(written_);
  if (const acd::v1::SessionResponse* in_flight = InFlightLocked()) {
    for (const acd::v1::AcdMessage& message : in_flight->messages()) {
      if (message.has_command()) delivered.in_flight.push_back(message.command());
    }
  }
  return delivered;
}

void SwitchSession::CloseIfFinished() {
  if (answers_waiting_ > 0) return;
  if (gone_) {
    delete this;
    return;
  }
  // The switch closed its side and everything it asked is answered: the session ends cleanly,
  // from a task of its own. The last answers may have just been released by a journal commit,
  // whose commands (the ones those requests caused) go out only after its answers
  // (Engine::Commit): the session stays open for them. The task holds the session as an answer
  // would.
  if (!reads_finished_ || close_posted_) return;
  close_posted_ = true;
  ++answers_waiting_;
  engine_->Post([this] {
    --answers_waiting_;
    if (!gone_) Close(grpc::Status::OK);
    CloseIfFinished();
  });
}

void SwitchSession::Gone() {
  engine_->metrics().sessions_open.fetch_sub(1, std::memory_order_relaxed);
  gone_ = true;
  CloseIfFinished();
}

}  // namespace acd::daemon
