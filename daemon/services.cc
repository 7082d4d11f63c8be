#include "daemon/services.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "daemon/grpc_status.h"
#include "daemon/policy_request.h"
#include "daemon/retry_ledger.h"
#include "metrics/acd_metrics.h"
#include "routing/request_limits.h"

namespace acd::daemon {
namespace {

// Ids are required and short: the router's own check, refused before reaching the engine.
grpc::Status CheckId(const std::string& value, const char* field) {
  return ToGrpcStatus(routing::CheckId(value, field));
}

grpc::Status FirstError(std::initializer_list<grpc::Status> checks) {
  for (const grpc::Status& s : checks) {
    if (!s.ok()) return s;
  }
  return grpc::Status::OK;
}

// Finishes at once with `status`, without the engine. `method` is the RPC's full name (one of
// metrics::AcdMetrics::RpcMethods()), for acd_grpc_requests_total.
grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, Engine* engine,
                                 const grpc::Status& status, const char* method) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  engine->metrics().CountRpc(metrics::AcdMetrics::RpcMethodIndex(method), status.error_code());
  reactor->Finish(status);
  return reactor;
}

// Finishes at once with `check` when it is an error; otherwise runs `work` on the engine thread
// and finishes with what it returns once what it did is durable (output commit).
template <typename Work>
grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* context, Engine* engine,
                                 const grpc::Status& check, Work work, const char* method) {
  if (!check.ok()) return Answer(context, engine, check, method);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const int index = metrics::AcdMetrics::RpcMethodIndex(method);
  engine->Post([reactor, engine, index, work = std::move(work)]() mutable {
    engine->WhenDurable([reactor, engine, index, status = work()](const grpc::Status& journal) {
      const grpc::Status& reply = journal.ok() ? status : journal;
      engine->metrics().CountRpc(index, reply.error_code());
      reactor->Finish(reply);
    });
  });
  return reactor;
}

// A stream refused before it starts.
template <typename Message>
class RefusedStream : public grpc::ServerWriteReactor<Message> {
 public:
  explicit RefusedStream(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* SwitchServiceImpl::EnqueueCall(grpc::CallbackServerContext* context,
                                                         const acd::v1::EnqueueCallRequest* request,
                                                         acd::v1::EnqueueCallResponse* response) {
  grpc::Status check = FirstError({CheckId(request->switch_id(), "switch_id"),
                                   CheckId(request->call_id(), "call_id"),
                                   CheckId(request->queue(), "queue")});
  return Handle(context, engine_, check,
                [this, request, response] { return engine_->EnqueueCall(*request, response); },
                "/acd.v1.SwitchService/EnqueueCall");
}

grpc::ServerUnaryReactor* SwitchServiceImpl::ReportCallEvent(grpc::CallbackServerContext* context,
                                                             const acd::v1::CallEvent* request,
                                                             acd::v1::CallEventResponse* response) {
  grpc::Status check = FirstError({CheckId(request->switch_id(), "switch_id"),
                                   CheckId(request->call_id(), "call_id")});
  if (check.ok() && AnswersAnOffer(*request)) check = CheckId(request->agent_id(), "agent_id");
  if (check.ok() && request->event_case() == acd::v1::CallEvent::EVENT_NOT_SET) {
    check = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                         "event: set one of offer_accepted, offer_rejected, offer_no_answer, "
                         "caller_abandoned, call_ended, answered, hold_started, hold_ended, "
                         "transfer_requested, consult_transfer_requested, consult_cancelled, "
                         "callback_accepted, callback_not_reached");
  }
  if (check.ok() && (request->has_transfer_requested() ||
                     request->has_consult_transfer_requested())) {
    const bool warm = request->has_consult_transfer_requested();
    const char* field = warm ? "consult_transfer_requested" : "transfer_requested";
    const acd::v1::TransferRequested& transfer =
        warm ? request->consult_transfer_requested() : request->transfer_requested();
    if (request->agent_id().empty()) {
      check = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                           "agent_id: name the agent transferring the call");
    } else if (transfer.to_case() == acd::v1::TransferRequested::TO_NOT_SET) {
      check = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                           absl::StrCat(field, ".to: name a queue or an agent_id"));
    } else if (transfer.reason().size() > 256 || transfer.notes().size() > 4096) {
      check = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                           absl::StrCat(field, ": reason at most 256 bytes, notes at most 4096"));
    }
  }
  if (check.ok() && (request->has_consult_cancelled() || request->has_callback_not_reached())) {
    check = CheckId(request->agent_id(), "agent_id");
  }
  if (check.ok() && request->has_callback_accepted() &&
      request->callback_accepted().number().size() > 64) {
    check = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                         "callback_accepted.number: at most 64 bytes");
  }
  if (check.ok() && request->has_callback_not_reached() &&
      request->callback_not_reached().reason().size() > 64) {
    check = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                         "callback_not_reached.reason: at most 64 bytes");
  }
  if (check.ok() && request->has_hold_started()) {
    const acd::v1::HoldStarted& hold = request->hold_started();
    if (hold.reason().size() > 64) {
      check = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                           "hold_started.reason: at most 64 bytes");
    } else if (!(hold.expected_seconds() >= 0) || hold.expected_seconds() > 86400) {
      check = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                           "hold_started.expected_seconds: between 0 and 86400");
    }
  }
  return Handle(context, engine_, check,
                [this, request, response] { return engine_->ReportCallEvent(*request, response); },
                "/acd.v1.SwitchService/ReportCallEvent");
}

grpc::ServerWriteReactor<acd::v1::Command>* SwitchServiceImpl::StreamCommands(
    grpc::CallbackServerContext* context, const acd::v1::StreamCommandsRequest* request) {
  grpc::Status check = CheckId(request->switch_id(), "switch_id");
  if (!check.ok()) return new RefusedStream<acd::v1::Command>(check);
  const std::string switch_id = request->switch_id();
  Engine* engine = engine_;
  auto* stream = new CommandWriter(
      engine->io(),
      [engine, switch_id](const acd::v1::Command& written) {
        engine->OnCommandWritten(switch_id, written);
      },
      [engine, switch_id](CommandWriter* gone) { engine->CommandStreamGone(switch_id, gone); });
  engine->Post([engine, switch_id, stream] {
    if (engine->draining()) {
      stream->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "acdd is shutting down"));
      return;
    }
    engine->OpenCommandStream(switch_id, stream);
  });
  return stream;
}

grpc::ServerUnaryReactor* SwitchServiceImpl::ListCalls(grpc::CallbackServerContext* context,
                                                       const acd::v1::ListCallsRequest* request,
                                                       acd::v1::ListCallsResponse* response) {
  return Handle(context, engine_, CheckId(request->switch_id(), "switch_id"),
                [this, request, response] { return engine_->ListCalls(*request, response); },
                "/acd.v1.SwitchService/ListCalls");
}

grpc::ServerUnaryReactor* AgentServiceImpl::Login(grpc::CallbackServerContext* context,
                                                  const acd::v1::LoginRequest* request,
                                                  acd::v1::AgentInfo* response) {
  return Handle(context, engine_, CheckId(request->agent_id(), "agent_id"),
                [this, request, response] { return engine_->Login(*request, response); },
                "/acd.v1.AgentService/Login");
}

grpc::ServerUnaryReactor* AgentServiceImpl::SetAgentState(
    grpc::CallbackServerContext* context, const acd::v1::SetAgentStateRequest* request,
    acd::v1::AgentInfo* response) {
  return Handle(context, engine_, CheckId(request->agent_id(), "agent_id"),
                [this, request, response] { return engine_->SetAgentState(*request, response); },
                "/acd.v1.AgentService/SetAgentState");
}

grpc::ServerUnaryReactor* AgentServiceImpl::Logout(grpc::CallbackServerContext* context,
                                                   const acd::v1::LogoutRequest* request,
                                                   acd::v1::LogoutResponse* response) {
  return Handle(context, engine_, CheckId(request->agent_id(), "agent_id"),
                [this, request] { return engine_->Logout(*request); },
                "/acd.v1.AgentService/Logout");
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListQueues(grpc::CallbackServerContext* context,
                                                       const acd::v1::ListQueuesRequest* request,
                                                       acd::v1::ListQueuesResponse* response) {
  return Handle(context, engine_, grpc::Status::OK,
                [this, response] { return engine_->ListQueues(response); },
                "/acd.v1.AdminService/ListQueues");
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListAgents(grpc::CallbackServerContext* context,
                                                       const acd::v1::ListAgentsRequest* request,
                                                       acd::v1::ListAgentsResponse* response) {
  return Handle(context, engine_, grpc::Status::OK,
                [this, request, response] { return engine_->ListAgents(*request, response); },
                "/acd.v1.AdminService/ListAgents");
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetCall(grpc::CallbackServerContext* context,
                                                    const acd::v1::GetCallRequest* request,
                                                    acd::v1::CallInfo* response) {
  return Handle(context, engine_, CheckId(request->call_id(), "call_id"),
                [this, request, response] { return engine_->GetCall(*request, response); },
                "/acd.v1.AdminService/GetCall");
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetPolicy(grpc::CallbackServerContext* context,
                                                      const acd::v1::GetPolicyRequest* request,
                                                      acd::v1::PolicyInfo* response) {
  return Handle(context, engine_, grpc::Status::OK,
                [this, response] { return engine_->GetPolicy(response); },
                "/acd.v1.AdminService/GetPolicy");
}

grpc::ServerUnaryReactor* AdminServiceImpl::SetPolicy(grpc::CallbackServerContext* context,
                                                      const acd::v1::SetPolicyRequest* request,
                                                      acd::v1::SetPolicyResponse* response) {
  // Reading, checking and compiling a policy costs what its sender chooses (up to its size
  // bound): it runs here, on gRPC's thread; one with problems is answered without the engine,
  // which only fits a sound one to the live calls and applies it.
  const char* method = "/acd.v1.AdminService/SetPolicy";
  absl::StatusOr<PolicyRequestPrepared> prepared = PreparePolicyRequest(*request);
  if (!prepared.ok()) return Answer(context, engine_, ToGrpcStatus(prepared.status()), method);
  if (!prepared->problems.empty()) {
    return Answer(context, engine_,
                  ToGrpcStatus(AnswerProblems(*request, prepared->problems, response)), method);
  }
  return Handle(context, engine_, grpc::Status::OK,
                [this, request, response, prepared = *std::move(prepared)] {
                  return engine_->SetPolicy(*request, prepared, response);
                },
                method);
}

grpc::ServerWriteReactor<acd::v1::ListQueuesResponse>* AdminServiceImpl::WatchQueues(
    grpc::CallbackServerContext* context, const acd::v1::WatchQueuesRequest* request) {
  double seconds = request->interval_seconds() == 0 ? 1.0 : request->interval_seconds();
  if (!(seconds >= 0.2) || seconds > 3600) {
    return new RefusedStream<acd::v1::ListQueuesResponse>(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT, "interval_seconds: between 0.2 and 3600"));
  }
  Engine* engine = engine_;
  auto* stream = new QueueWatchWriter(engine->io(), nullptr,
                                      [engine](QueueWatchWriter* gone) { engine->QueueWatchGone(gone); });
  const absl::Duration interval = absl::Seconds(seconds);
  engine->Post([engine, stream, interval] {
    if (engine->draining()) {
      stream->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "acdd is shutting down"));
      return;
    }
    engine->OpenQueueWatch(stream, interval);
  });
  return stream;
}

}  // namespace acd::daemon
