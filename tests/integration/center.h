// Center wraps acdd's three services in calls that read as what a switch, an agent desktop and an
// operator do, for the whole-process tests.
//   AcddProcess acdd({"--policy", path});
//   Center center(acdd);
//   center.Login("a1", "sales");
//   center.Enqueue("c1", "sales");
//   center.Event("c1", "a1", Accept);
#ifndef ACD_TESTS_INTEGRATION_CENTER_H_
#define ACD_TESTS_INTEGRATION_CENTER_H_

#include <chrono>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/integration/acdd_process.h"

namespace acd::testing {

// Runs one RPC with a 10 s deadline.
template <typename Call>
grpc::Status Rpc(Call call) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return call(&context);
}

// Thin wrappers that read as the switch / agent / operator actions they are.
struct Center {
  explicit Center(AcddProcess& acdd) : sw(acdd.Switch()), agents(acdd.Agents()), admin(acdd.Admin()) {}

  grpc::Status Login(const std::string& agent, const std::string& skill, bool ready = true,
                     acd::v1::AgentInfo* info = nullptr) {
    acd::v1::LoginRequest request;
    request.set_agent_id(agent);
    auto* s = request.add_skills();
    s->set_skill(skill);
    s->set_proficiency(3);
    request.set_ready(ready);
    acd::v1::AgentInfo ignored;
    return Rpc([&](grpc::ClientContext* c) { return agents->Login(c, request, info ? info : &ignored); });
  }
  grpc::Status SetReady(const std::string& agent) {
    acd::v1::SetAgentStateRequest request;
    request.set_agent_id(agent);
    request.mutable_ready();
    acd::v1::AgentInfo info;
    return Rpc([&](grpc::ClientContext* c) { return agents->SetAgentState(c, request, &info); });
  }
  grpc::Status EndWrapUp(const std::string& agent) {
    acd::v1::SetAgentStateRequest request;
    request.set_agent_id(agent);
    request.mutable_end_wrap_up();
    acd::v1::AgentInfo info;
    return Rpc([&](grpc::ClientContext* c) { return agents->SetAgentState(c, request, &info); });
  }
  acd::v1::EnqueueCallResponse Enqueue(const std::string& call, const std::string& queue,
                                       grpc::Status* status = nullptr, const std::string& sw_id = "sw1") {
    acd::v1::EnqueueCallRequest request;
    request.set_switch_id(sw_id);
    request.set_call_id(call);
    request.set_queue(queue);
    (*request.mutable_attributes())["account"] = "ACME-42";
    acd::v1::EnqueueCallResponse response;
    grpc::Status s = Rpc([&](grpc::ClientContext* c) { return sw->EnqueueCall(c, request, &response); });
    if (status) *status = s; else EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }
  // Reports one event about `call` from switch sw1; `set` fills in which event it is.
  template <typename SetEvent>
  grpc::Status Event(const std::string& call, const std::string& agent, SetEvent set,
                     acd::v1::CallState* state = nullptr, uint64_t offer_sequence = 0) {
    acd::v1::CallEvent event;
    event.set_switch_id("sw1");
    event.set_call_id(call);
    event.set_agent_id(agent);
    event.set_offer_sequence(offer_sequence);
    set(&event);
    acd::v1::CallEventResponse response;
    grpc::Status s = Rpc([&](grpc::ClientContext* c) { return sw->ReportCallEvent(c, event, &response); });
    if (state) *state = response.state();
    return s;
  }
  acd::v1::CallInfo GetCall(const std::string& call, grpc::Status* status = nullptr) {
    acd::v1::GetCallRequest request;
    request.set_call_id(call);
    acd::v1::CallInfo info;
    grpc::Status s = Rpc([&](grpc::ClientContext* c) { return admin->GetCall(c, request, &info); });
    if (status) *status = s; else EXPECT_TRUE(s.ok()) << s.error_message();
    return info;
  }
  acd::v1::AgentInfo Agent(const std::string& agent) {
    acd::v1::ListAgentsRequest request;
    acd::v1::ListAgentsResponse response;
    EXPECT_TRUE(Rpc([&](grpc::ClientContext* c) { return admin->ListAgents(c, request, &response); }).ok());
    for (const auto& a : response.agents()) if (a.agent_id() == agent) return a;
    return {};
  }
  acd::v1::QueueInfo Queue(const std::string& queue) {
    acd::v1::ListQueuesRequest request;
    acd::v1::ListQueuesResponse response;
    EXPECT_TRUE(Rpc([&](grpc::ClientContext* c) { return admin->ListQueues(c, request, &response); }).ok());
    for (const auto& q : response.queues()) if (q.queue() == queue) return q;
    return {};
  }

  std::unique_ptr<acd::v1::SwitchService::Stub> sw;
  std::unique_ptr<acd::v1::AgentService::Stub> agents;
  std::unique_ptr<acd::v1::AdminService::Stub> admin;
};

inline void Accept(acd::v1::CallEvent* e) { e->mutable_offer_accepted(); }
inline void Reject(acd::v1::CallEvent* e) { e->mutable_offer_rejected()->set_reason("busy"); }
inline void Abandon(acd::v1::CallEvent* e) { e->mutable_caller_abandoned(); }
inline void End(acd::v1::CallEvent* e) { e->mutable_call_ended(); }

}  // namespace acd::testing

#endif  // ACD_TESTS_INTEGRATION_CENTER_H_
