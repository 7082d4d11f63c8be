#include "daemon/services.h"

#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "daemon/grpc_status.h"
#include "daemon/log.h"
#include "daemon/policy_request.h"
#include "daemon/request_checks.h"
#include "daemon/serving_role.h"
#include "daemon/switch_session.h"
#include "metrics/acd_metrics.h"
#include "routing/request_limits.h"

namespace acd::daemon {
namespace {

// The caller of `method`, admitted by the token in the call's metadata (Access::Admit), on a
// replica that serves the acd.v1 API (a standby refuses, naming the leader).
absl::StatusOr<Caller> Admit(const Access& access, const ServingRole* role,
                             grpc::CallbackServerContext* context, const char* method) {
  if (role != nullptr && !role->serving()) return role->Refuse(context);
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  const absl::string_view authorization =
      it == metadata.end() ? absl::string_view()
                           : absl::string_view(it->second.data(), it->second.size());
  return access.Admit(authorization, method);
}

// OK when `caller` was admitted and `bound(caller)` (a check of the ids the request names
// against those its token is bound to) holds.
template <typename Bound>
grpc::Status Permit(const absl::StatusOr<Caller>& caller, Bound bound) {
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  return ToGrpcStatus(bound(*caller));
}

// What an agent's desk does not see of a call: where to call the customer back and what the IVR
// collected (it reaches the agent with the offer, through the switch).
void HideCallerDetails(acd::v1::CallInfo* call) {
  call->clear_callback_number();
  call->clear_attributes();
  for (acd::v1::CallHistoryEntry& entry : *call->mutable_history()) {
    if (entry.what() == "callback_accepted") entry.clear_detail();
  }
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

// A stream refused before it starts; `Reactor` is its kind of gRPC reactor.
template <typename Reactor>
class RefusedStream : public Reactor {
 public:
  explicit RefusedStream(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* SwitchServiceImpl::EnqueueCall(grpc::CallbackServerContext* context,
                                                         const acd::v1::EnqueueCallRequest* request,
                                                         acd::v1::EnqueueCallResponse* response) {
  const char* method = "/acd.v1.SwitchService/EnqueueCall";
  grpc::Status check = Permit(Admit(*access_, role_, context, method), [&](const Caller& caller) {
    return caller.MayActForSwitch(request->switch_id(), method);
  });
  if (check.ok()) check = CheckEnqueueCall(*request);
  return Handle(
      context, engine_, check,
      [this, request, response] { return engine_->EnqueueCall(*request, response); }, method);
}

grpc::ServerUnaryReactor* SwitchServiceImpl::ReportCallEvent(grpc::CallbackServerContext* context,
                                                             const acd::v1::CallEvent* request,
                                                             acd::v1::CallEventResponse* response) {
  const char* method = "/acd.v1.SwitchService/ReportCallEvent";
  grpc::Status check = Permit(Admit(*access_, role_, context, method), [&](const Caller& caller) {
    return caller.MayActForSwitch(request->switch_id(), method);
  });
  if (check.ok()) check = CheckCallEvent(*request);
  return Handle(
      context, engine_, check,
      [this, request, response] { return engine_->ReportCallEvent(*request, response); }, method);
}

grpc::ServerWriteReactor<acd::v1::Command>* SwitchServiceImpl::StreamCommands(
    grpc::CallbackServerContext* context, const acd::v1::StreamCommandsRequest* request) {
  const char* method = "/acd.v1.SwitchService/StreamCommands";
  absl::StatusOr<Caller> caller = Admit(*access_, role_, context, method);
  grpc::Status check = Permit(caller, [&](const Caller& caller) {
    return caller.MayActForSwitch(request->switch_id(), method);
  });
  if (check.ok()) check = CheckId(request->switch_id(), "switch_id");
  if (!check.ok()) return new RefusedStream<grpc::ServerWriteReactor<acd::v1::Command>>(check);
  const std::string switch_id = request->switch_id();
  Engine* engine = engine_;
  auto* stream = new CommandWriter(
      engine->io(),
      [engine, switch_id](StreamWriter<acd::v1::Command>* writer, const acd::v1::Command& written) {
        engine->OnCommandWritten(switch_id, written, static_cast<CommandWriter*>(writer));
      },
      [engine, switch_id](StreamWriter<acd::v1::Command>* gone) {
        engine->CommandStreamGone(switch_id, static_cast<CommandWriter*>(gone));
      });
  engine->Post(
      [engine, switch_id, stream, admitted = [access = access_, caller = *std::move(caller)] {
        return access->StillAdmits(caller);
      }] {
        if (engine->draining()) {
          stream->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "acdd is shutting down"));
          return;
        }
        engine->OpenCommandStream(switch_id, stream, admitted);
      });
  return stream;
}

grpc::ServerUnaryReactor* SwitchServiceImpl::ListCalls(grpc::CallbackServerContext* context,
                                                       const acd::v1::ListCallsRequest* request,
                                                       acd::v1::ListCallsResponse* response) {
  const char* method = "/acd.v1.SwitchService/ListCalls";
  grpc::Status check = Permit(Admit(*access_, role_, context, method), [&](const Caller& caller) {
    return caller.MayActForSwitch(request->switch_id(), method);
  });
  if (check.ok()) check = CheckListCalls(*request);
  return Handle(
      context, engine_, check,
      [this, request, response] { return engine_->ListCalls(*request, response); }, method);
}

grpc::ServerBidiReactor<acd::v1::SessionRequest, acd::v1::SessionResponse>*
SwitchServiceImpl::Session(grpc::CallbackServerContext* context) {
  absl::StatusOr<Caller> caller = Admit(*access_, role_, context, "/acd.v1.SwitchService/Session");
  if (!caller.ok()) {
    return new RefusedStream<
        grpc::ServerBidiReactor<acd::v1::SessionRequest, acd::v1::SessionResponse>>(
        ToGrpcStatus(caller.status()));
  }
  return new SwitchSession(engine_, access_, *std::move(caller));
}

grpc::ServerUnaryReactor* AgentServiceImpl::Login(grpc::CallbackServerContext* context,
                                                  const acd::v1::LoginRequest* request,
                                                  acd::v1::AgentInfo* response) {
  const char* method = "/acd.v1.AgentService/Login";
  grpc::Status check = Permit(Admit(*access_, role_, context, method), [&](const Caller& caller) {
    return caller.MayActForAgent(request->agent_id(), method);
  });
  if (check.ok()) check = CheckId(request->agent_id(), "agent_id");
  return Handle(
      context, engine_, check,
      [this, request, response] { return engine_->Login(*request, response); }, method);
}

grpc::ServerUnaryReactor* AgentServiceImpl::SetAgentState(
    grpc::CallbackServerContext* context, const acd::v1::SetAgentStateRequest* request,
    acd::v1::AgentInfo* response) {
  const char* method = "/acd.v1.AgentService/SetAgentState";
  absl::StatusOr<Caller> caller = Admit(*access_, role_, context, method);
  grpc::Status check =
      Permit(caller, [&](const Caller& caller) { return MaySetAgentState(caller, *request); });
  if (check.ok()) check = CheckSetAgentState(*request);
  if (!check.ok()) return Answer(context, engine_, check, method);
  return Handle(
      context, engine_, check,
      [this, request, response, caller = *std::move(caller)] {
        grpc::Status status = engine_->SetAgentState(*request, response);
        AuditAgentStateChange(caller, *request, status);
        return status;
      },
      method);
}

grpc::ServerUnaryReactor* AgentServiceImpl::Logout(grpc::CallbackServerContext* context,
                                                   const acd::v1::LogoutRequest* request,
                                                   acd::v1::LogoutResponse* response) {
  const char* method = "/acd.v1.AgentService/Logout";
  absl::StatusOr<Caller> caller = Admit(*access_, role_, context, method);
  grpc::Status check = Permit(caller, [&](const Caller& caller) {
    return caller.MayActForAgent(request->agent_id(), method);
  });
  if (check.ok()) check = CheckId(request->agent_id(), "agent_id");
  if (!check.ok()) return Answer(context, engine_, check, method);
  return Handle(
      context, engine_, check,
      [this, request, caller = *std::move(caller)] {
        grpc::Status status = engine_->Logout(*request);
        AuditAgentChange(caller, "logged out", request->agent_id(), status);
        return status;
      },
      method);
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListQueues(grpc::CallbackServerContext* context,
                                                       const acd::v1::ListQueuesRequest* request,
                                                       acd::v1::ListQueuesResponse* response) {
  const char* method = "/acd.v1.AdminService/ListQueues";
  return Handle(
      context, engine_, ToGrpcStatus(Admit(*access_, role_, context, method).status()),
      [this, response] { return engine_->ListQueues(response); }, method);
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListAgents(grpc::CallbackServerContext* context,
                                                       const acd::v1::ListAgentsRequest* request,
                                                       acd::v1::ListAgentsResponse* response) {
  const char* method = "/acd.v1.AdminService/ListAgents";
  return Handle(
      context, engine_, ToGrpcStatus(Admit(*access_, role_, context, method).status()),
      [this, request, response] { return engine_->ListAgents(*request, response); }, method);
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetCall(grpc::CallbackServerContext* context,
                                                    const acd::v1::GetCallRequest* request,
                                                    acd::v1::CallInfo* response) {
  const char* method = "/acd.v1.AdminService/GetCall";
  absl::StatusOr<Caller> caller = Admit(*access_, role_, context, method);
  grpc::Status check = Permit(caller, [](const Caller&) { return absl::OkStatus(); });
  if (check.ok()) check = CheckId(request->call_id(), "call_id");
  if (!check.ok()) return Answer(context, engine_, check, method);
  return Handle(
      context, engine_, check,
      [this, request, response, method, caller = *std::move(caller)] {
        grpc::Status status = engine_->GetCall(*request, response);
        if (!status.ok()) return status;
        // A switch token sees its own switches' calls; an agent's desk sees no
        // callback number and no attributes.
        if (absl::Status bound = caller.MayActForSwitch(response->switch_id(), method);
            !bound.ok()) {
          response->Clear();
          return ToGrpcStatus(bound);
        }
        if (!caller.SeesCallerDetails()) HideCallerDetails(response);
        return status;
      },
      method);
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetPolicy(grpc::CallbackServerContext* context,
                                                      const acd::v1::GetPolicyRequest* request,
                                                      acd::v1::PolicyInfo* response) {
  const char* method = "/acd.v1.AdminService/GetPolicy";
  return Handle(
      context, engine_, ToGrpcStatus(Admit(*access_, role_, context, method).status()),
      [this, response] { return engine_->GetPolicy(response); }, method);
}

grpc::ServerUnaryReactor* AdminServiceImpl::SetPolicy(grpc::CallbackServerContext* context,
                                                      const acd::v1::SetPolicyRequest* request,
                                                      acd::v1::SetPolicyResponse* response) {
  // Reading, checking and compiling a policy costs what its sender chooses (up to its size
  // bound): it runs here, on gRPC's thread; one with problems is answered without the engine,
  // which only fits a sound one to the live calls and applies it.
  const char* method = "/acd.v1.AdminService/SetPolicy";
  absl::StatusOr<Caller> caller = Admit(*access_, role_, context, method);
  if (!caller.ok()) return Answer(context, engine_, ToGrpcStatus(caller.status()), method);
  // Every attempt to change the policy is audited, with what became of it.
  auto audit = [caller = *caller, validate_only = request->validate_only()](
                   const grpc::Status& status, const acd::v1::SetPolicyResponse& response) {
    if (validate_only) return;
    Log(absl::StrCat("audit: ", caller.Describe(), " SetPolicy: ",
                     response.applied() ? "applied"
                     : status.ok()
                         ? "not applied"
                         : absl::StrCat("refused, ", routing::Quote(status.error_message()))));
  };
  // One with problems is answered here, without the engine (a dry run's reply lists them).
  absl::StatusOr<PolicyRequestPrepared> prepared = PreparePolicyRequest(*request);
  if (!prepared.ok() || !prepared->problems.empty()) {
    const grpc::Status answer = ToGrpcStatus(
        prepared.ok() ? AnswerProblems(*request, prepared->problems, response) : prepared.status());
    audit(answer, *response);
    return Answer(context, engine_, answer, method);
  }
  DiffFrom(engine_->published_policy(), *prepared);  // here too, not on the engine
  return Handle(
      context, engine_, grpc::Status::OK,
      [this, request, response, audit, prepared = *std::move(prepared)] {
        grpc::Status status = engine_->SetPolicy(*request, prepared, response);
        audit(status, *response);
        return status;
      },
      method);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* AdminServiceImpl::WatchQueues(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw_request) {
  const char* method = "/acd.v1.AdminService/WatchQueues";
  absl::StatusOr<Caller> caller = Admit(*access_, role_, context, method);
  if (!caller.ok()) {
    return new RefusedStream<grpc::ServerWriteReactor<grpc::ByteBuffer>>(
        ToGrpcStatus(caller.status()));
  }
  acd::v1::WatchQueuesRequest request;
  grpc::ByteBuffer copy(*raw_request);  // Deserialize empties the buffer it reads
  if (!grpc::SerializationTraits<acd::v1::WatchQueuesRequest>::Deserialize(&copy, &request).ok()) {
    return new RefusedStream<grpc::ServerWriteReactor<grpc::ByteBuffer>>(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT, "the request is not an acd.v1.WatchQueuesRequest"));
  }
  double seconds = request.interval_seconds() == 0 ? 1.0 : request.interval_seconds();
  if (!(seconds >= 0.2) || seconds > 3600) {
    return new RefusedStream<grpc::ServerWriteReactor<grpc::ByteBuffer>>(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "interval_seconds: between 0.2 and 3600"));
  }
  Engine* engine = engine_;
  auto* stream = new QueueWatchWriter(engine->io(), nullptr,
                                      [engine](QueueWatchWriter* gone) { engine->QueueWatchGone(gone); });
  const absl::Duration interval = absl::Seconds(seconds);
  engine->Post(
      [engine, stream, interval, admitted = [access = access_, caller = *std::move(caller)] {
        return access->StillAdmits(caller);
      }] {
        if (engine->draining()) {
          stream->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "acdd is shutting down"));
          return;
        }
        engine->OpenQueueWatch(stream, interval, admitted);
      });
  return stream;
}

grpc::ServerUnaryReactor* AdminServiceImpl::WhatIf(grpc::CallbackServerContext* context,
                                                   const acd::v1::WhatIfRequest* request,
                                                   acd::v1::WhatIfResponse* response) {
  const char* method = "/acd.v1.AdminService/WhatIf";
  absl::StatusOr<Caller> caller = Admit(*access_, role_, context, method);
  if (!caller.ok()) return Answer(context, engine_, ToGrpcStatus(caller.status()), method);
  if (!what_if_) {
    return Answer(context, engine_,
                  grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                               "acdd runs without --data_dir: it keeps no history to replay"),
                  method);
  }
  if (what_if_running_.exchange(true)) {
    return Answer(context, engine_,
                  grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                               "a what-if is running; ask again once it is done"),
                  method);
  }
  Log(absl::StrCat("audit: ", caller->Describe(), " WhatIf: replaying the history"));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (what_if_thread_.joinable()) what_if_thread_.join();  // the last one, over
  what_if_thread_ = std::thread([this, reactor, request, response, method] {
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);  // this thread only (Linux)
    const grpc::Status status = what_if_(*request, response);
    engine_->metrics().CountRpc(metrics::AcdMetrics::RpcMethodIndex(method), status.error_code());
    reactor->Finish(status);
    what_if_running_.store(false);  // the next one may start (and joins this thread)
  });
  return reactor;
}

}  // namespace acd::daemon
