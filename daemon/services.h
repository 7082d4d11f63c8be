// The gRPC services of acd.v1 on the callback API. Each handler first admits the caller (its
// token's role and the ids it is bound to, see access/access.h), checks what it can without state
// (ids present and short enough, a oneof set), posts the request into the engine, and finishes
// the RPC from the engine thread. A standby of an HA pair refuses every call (serving_role.h).
//   SwitchServiceImpl switch_service(&engine, &access);
//   builder.RegisterService(&switch_service);
#ifndef ACD_DAEMON_SERVICES_H_
#define ACD_DAEMON_SERVICES_H_

#include <atomic>
#include <functional>
#include <thread>

#include "acd/v1/acd.grpc.pb.h"
#include "daemon/access/access.h"
#include "daemon/engine.h"
#include "daemon/serving_role.h"

namespace acd::daemon {

class SwitchServiceImpl final : public acd::v1::SwitchService::CallbackService {
 public:
  // `role` (null: always serving) says whether this replica serves; see serving_role.h.
  SwitchServiceImpl(Engine* engine, const Access* access, const ServingRole* role = nullptr)
      : engine_(engine), access_(access), role_(role) {}
  grpc::ServerUnaryReactor* EnqueueCall(grpc::CallbackServerContext* context,
                                        const acd::v1::EnqueueCallRequest* request,
                                        acd::v1::EnqueueCallResponse* response) override;
  grpc::ServerUnaryReactor* ReportCallEvent(grpc::CallbackServerContext* context,
                                            const acd::v1::CallEvent* request,
                                            acd::v1::CallEventResponse* response) override;
  grpc::ServerWriteReactor<acd::v1::Command>* StreamCommands(
      grpc::CallbackServerContext* context, const acd::v1::StreamCommandsRequest* request) override;
  grpc::ServerUnaryReactor* ListCalls(grpc::CallbackServerContext* context,
                                      const acd::v1::ListCallsRequest* request,
                                      acd::v1::ListCallsResponse* response) override;
  // The switch's session: switch_session.h.
  grpc::ServerBidiReactor<acd::v1::SessionRequest, acd::v1::SessionResponse>* Session(
      grpc::CallbackServerContext* context) override;

 private:
  Engine* engine_;
  const Access* access_;
  const ServingRole* role_;
};

class AgentServiceImpl final : public acd::v1::AgentService::CallbackService {
 public:
  // `role` (null: always serving) says whether this replica serves; see serving_role.h.
  AgentServiceImpl(Engine* engine, const Access* access, const ServingRole* role = nullptr)
      : engine_(engine), access_(access), role_(role) {}
  grpc::ServerUnaryReactor* Login(grpc::CallbackServerContext* context,
                                  const acd::v1::LoginRequest* request,
                                  acd::v1::AgentInfo* response) override;
  grpc::ServerUnaryReactor* SetAgentState(grpc::CallbackServerContext* context,
                                          const acd::v1::SetAgentStateRequest* request,
                                          acd::v1::AgentInfo* response) override;
  grpc::ServerUnaryReactor* Logout(grpc::CallbackServerContext* context,
                                   const acd::v1::LogoutRequest* request,
                                   acd::v1::LogoutResponse* response) override;

 private:
  Engine* engine_;
  const Access* access_;
  const ServingRole* role_;
};

// Runs a what-if on acdd's data dir (acdd wires in reports/what_if_tool.h); null: no data dir.
using WhatIfRunner =
    std::function<grpc::Status(const acd::v1::WhatIfRequest&, acd::v1::WhatIfResponse*)>;

// WatchQueues is a raw method: every wallboard gets the same serialized table (a grpc::ByteBuffer
// that the engine makes once for all of them, see Engine::OpenQueueWatch); the wire format is
// acd.v1's as for any other method.
class AdminServiceImpl final : public acd::v1::AdminService::WithRawCallbackMethod_WatchQueues<
                                   acd::v1::AdminService::CallbackService> {
 public:
  // `role` (null: always serving) says whether this replica serves; see serving_role.h.
  AdminServiceImpl(Engine* engine, const Access* access, const ServingRole* role = nullptr,
                   WhatIfRunner what_if = nullptr)
      : engine_(engine), access_(access), role_(role), what_if_(std::move(what_if)) {}
  // Waits for a what-if still running (acdd stopping during one stops once it is over).
  ~AdminServiceImpl() override {
    if (what_if_thread_.joinable()) what_if_thread_.join();
  }
  grpc::ServerUnaryReactor* ListQueues(grpc::CallbackServerContext* context,
                                       const acd::v1::ListQueuesRequest* request,
                                       acd::v1::ListQueuesResponse* response) override;
  grpc::ServerUnaryReactor* ListAgents(grpc::CallbackServerContext* context,
                                       const acd::v1::ListAgentsRequest* request,
                                       acd::v1::ListAgentsResponse* response) override;
  grpc::ServerUnaryReactor* GetCall(grpc::CallbackServerContext* context,
                                    const acd::v1::GetCallRequest* request,
                                    acd::v1::CallInfo* response) override;
  grpc::ServerUnaryReactor* GetPolicy(grpc::CallbackServerContext* context,
                                      const acd::v1::GetPolicyRequest* request,
                                      acd::v1::PolicyInfo* response) override;
  grpc::ServerUnaryReactor* SetPolicy(grpc::CallbackServerContext* context,
                                      const acd::v1::SetPolicyRequest* request,
                                      acd::v1::SetPolicyResponse* response) override;
  // `request` is an acd.v1.WatchQueuesRequest, serialized; each message sent, a ListQueuesResponse.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchQueues(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request) override;
  // On a thread of its own, niced (the engine keeps its core), one at a time.
  grpc::ServerUnaryReactor* WhatIf(grpc::CallbackServerContext* context,
                                   const acd::v1::WhatIfRequest* request,
                                   acd::v1::WhatIfResponse* response) override;

 private:
  Engine* engine_;
  const Access* access_;
  const ServingRole* role_;
  const WhatIfRunner what_if_;
  std::atomic<bool> what_if_running_{false};
  std::thread what_if_thread_;  // the last one started; touched only by who set what_if_running_
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_SERVICES_H_
