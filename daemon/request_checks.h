// The checks a switch's request gets before it reaches the engine: what can be said without
// state (ids present and short enough, a oneof set, text within its bounds). The unary RPCs and
// the switch session (switch_session.h) ask the same ones, so both refuse the same requests with
// the same status.
//   grpc::Status check = CheckEnqueueCall(request);
//   if (!check.ok()) return Answer(check);
#ifndef ACD_DAEMON_REQUEST_CHECKS_H_
#define ACD_DAEMON_REQUEST_CHECKS_H_

#include <string>

#include "absl/status/status.h"
#include "acd/v1/acd.pb.h"
#include "daemon/access/access.h"
#include "grpcpp/support/status.h"

namespace acd::daemon {

// Ids are required and short: the router's own check, refused before reaching the engine.
grpc::Status CheckId(const std::string& value, const char* field);

grpc::Status CheckEnqueueCall(const acd::v1::EnqueueCallRequest& request);
grpc::Status CheckCallEvent(const acd::v1::CallEvent& event);
grpc::Status CheckListCalls(const acd::v1::ListCallsRequest& request);
grpc::Status CheckSetAgentState(const acd::v1::SetAgentStateRequest& request);

// May `caller` change an agent's state as `request` asks (AgentService.SetAgentState's rules)?
// Its role must include the method; a supervisor may only force an agent not ready; an agent's
// token acts on its own agent only.
absl::Status MaySetAgentState(const Caller& caller, const acd::v1::SetAgentStateRequest& request);

// A change to an agent made by someone other than the agent, for the audit trail (logged when the
// caller's token is a supervisor's or admin's): `what` was done, with `status`.
void AuditAgentChange(const Caller& caller, absl::string_view what, const std::string& agent_id,
                      const grpc::Status& status);
// The same for a SetAgentState request.
void AuditAgentStateChange(const Caller& caller, const acd::v1::SetAgentStateRequest& request,
                           const grpc::Status& status);

}  // namespace acd::daemon

#endif  // ACD_DAEMON_REQUEST_CHECKS_H_
