#include "daemon/request_checks.h"

#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "daemon/grpc_status.h"
#include "daemon/log.h"
#include "daemon/retry_ledger.h"
#include "routing/request_limits.h"

namespace acd::daemon {
namespace {

grpc::Status FirstError(std::initializer_list<grpc::Status> checks) {
  for (const grpc::Status& s : checks) {
    if (!s.ok()) return s;
  }
  return grpc::Status::OK;
}

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

grpc::Status CheckTransfer(const acd::v1::CallEvent& event) {
  const bool warm = event.has_consult_transfer_requested();
  const char* field = warm ? "consult_transfer_requested" : "transfer_requested";
  const acd::v1::TransferRequested& transfer =
      warm ? event.consult_transfer_requested() : event.transfer_requested();
  if (event.agent_id().empty()) return Invalid("agent_id: name the agent transferring the call");
  if (transfer.to_case() == acd::v1::TransferRequested::TO_NOT_SET) {
    return Invalid(absl::StrCat(field, ".to: name a queue or an agent_id"));
  }
  if (transfer.reason().size() > 256 || transfer.notes().size() > 4096) {
    return Invalid(absl::StrCat(field, ": reason at most 256 bytes, notes at most 4096"));
  }
  return grpc::Status::OK;
}

grpc::Status CheckHold(const acd::v1::HoldStarted& hold) {
  if (hold.reason().size() > 64) return Invalid("hold_started.reason: at most 64 bytes");
  if (!(hold.expected_seconds() >= 0) || hold.expected_seconds() > 86400) {
    return Invalid("hold_started.expected_seconds: between 0 and 86400");
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status CheckId(const std::string& value, const char* field) {
  return ToGrpcStatus(routing::CheckId(value, field));
}

grpc::Status CheckEnqueueCall(const acd::v1::EnqueueCallRequest& request) {
  return FirstError({CheckId(request.switch_id(), "switch_id"),
                     CheckId(request.call_id(), "call_id"), CheckId(request.queue(), "queue")});
}

grpc::Status CheckCallEvent(const acd::v1::CallEvent& event) {
  grpc::Status check =
      FirstError({CheckId(event.switch_id(), "switch_id"), CheckId(event.call_id(), "call_id")});
  if (check.ok() && AnswersAnOffer(event)) check = CheckId(event.agent_id(), "agent_id");
  if (!check.ok()) return check;
  switch (event.event_case()) {
    case acd::v1::CallEvent::EVENT_NOT_SET:
      return Invalid(
          "event: set one of offer_accepted, offer_rejected, offer_no_answer, "
          "caller_abandoned, call_ended, answered, hold_started, hold_ended, "
          "transfer_requested, consult_transfer_requested, consult_cancelled, "
          "callback_accepted, callback_not_reached");
    case acd::v1::CallEvent::kTransferRequested:
    case acd::v1::CallEvent::kConsultTransferRequested:
      return CheckTransfer(event);
    case acd::v1::CallEvent::kConsultCancelled:
      return CheckId(event.agent_id(), "agent_id");
    case acd::v1::CallEvent::kCallbackNotReached:
      if (grpc::Status id = CheckId(event.agent_id(), "agent_id"); !id.ok()) return id;
      if (event.callback_not_reached().reason().size() > 64) {
        return Invalid("callback_not_reached.reason: at most 64 bytes");
      }
      return grpc::Status::OK;
    case acd::v1::CallEvent::kCallbackAccepted:
      if (event.callback_accepted().number().size() > 64) {
        return Invalid("callback_accepted.number: at most 64 bytes");
      }
      return grpc::Status::OK;
    case acd::v1::CallEvent::kHoldStarted:
      return CheckHold(event.hold_started());
    default:
      return grpc::Status::OK;
  }
}

grpc::Status CheckListCalls(const acd::v1::ListCallsRequest& request) {
  if (grpc::Status id = CheckId(request.switch_id(), "switch_id"); !id.ok()) return id;
  if (request.page_size() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("page_size is ", request.page_size(), "; 0 or more"));
  }
  // A token is the last call id of the page before.
  if (request.page_token().size() > routing::kMaxIdBytes) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("page_token is ", request.page_token().size(),
                                     " bytes: not one that ListCalls gave"));
  }
  return grpc::Status::OK;
}

grpc::Status CheckSetAgentState(const acd::v1::SetAgentStateRequest& request) {
  return CheckId(request.agent_id(), "agent_id");
}

absl::Status MaySetAgentState(const Caller& caller, const acd::v1::SetAgentStateRequest& request) {
  constexpr absl::string_view kMethod = "/acd.v1.AgentService/SetAgentState";
  if (absl::Status may = caller.MayCall(kMethod); !may.ok()) return may;
  if (caller.role() == Role::kSupervisor && !request.has_not_ready()) {
    return absl::PermissionDeniedError(absl::StrCat(
        caller.Describe(), " may not call ", kMethod,
        " but to force an agent not ready (not_ready): ready and end_wrap_up are the agent's"));
  }
  return caller.MayActForAgent(request.agent_id(), kMethod);
}

void AuditAgentChange(const Caller& caller, absl::string_view what, const std::string& agent_id,
                      const grpc::Status& status) {
  if (!caller.ForcesAgents()) return;
  Log(absl::StrCat("audit: ", caller.Describe(), " ", what, " agent ", routing::Quote(agent_id),
                   ": ", status.ok() ? "done" : routing::Quote(status.error_message())));
}

void AuditAgentStateChange(const Caller& caller, const acd::v1::SetAgentStateRequest& request,
                           const grpc::Status& status) {
  AuditAgentChange(caller,
                   request.has_not_ready() ? "made not ready"
                   : request.has_ready()   ? "made ready"
                                           : "ended the wrap-up of",
                   request.agent_id(), status);
}

}  // namespace acd::daemon
