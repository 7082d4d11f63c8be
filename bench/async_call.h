// What bench's gRPC clients (acdload, acdfill, acdfailover) share: a unary call in flight on the
// callback API, which its completion deletes; how they give up on an RPC that must not fail; and
// how their agents answer an offer.
//   auto* login = new AsyncCall<acd::v1::LoginRequest, acd::v1::AgentInfo>;
//   stub->async()->Login(&login->context, &login->request, &login->response,
//                        [login](grpc::Status s) { if (!s.ok()) Die("Login", s); delete login; });
#ifndef ACD_BENCH_ASYNC_CALL_H_
#define ACD_BENCH_ASYNC_CALL_H_

#include <errno.h>  // program_invocation_short_name (GNU)

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>

#include "acd/v1/acd.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace acd::bench {

template <typename Request, typename Response>
struct AsyncCall {
  grpc::ClientContext context;
  Request request;
  Response response;
};

[[noreturn]] inline void Die(const std::string& what, const grpc::Status& status) {
  std::cerr << program_invocation_short_name << ": " << what << ": " << status.error_message()
            << " (code " << status.error_code() << ")\n";
  std::exit(1);
}

// An agent logging in ready with `skill` at proficiency 5, as the load tools' agents do.
inline acd::v1::LoginRequest ReadyAgent(const std::string& agent_id, const std::string& skill) {
  acd::v1::LoginRequest login;
  login.set_agent_id(agent_id);
  acd::v1::AgentSkill* level = login.add_skills();
  level->set_skill(skill);
  level->set_proficiency(5);
  login.set_ready(true);
  return login;
}

// The agent takes the call, the call ends, and (when `wrap_up`) the agent ends its wrap-up: the
// events a real desktop and switch send, chained on the callback API. `done` runs once: with OK
// after the last step, or with the first step that failed and why.
inline void AnswerOffer(acd::v1::SwitchService::Stub* switches, acd::v1::AgentService::Stub* agents,
                        const std::string& switch_id, const std::string& call_id,
                        const std::string& agent_id, uint64_t offer_sequence, bool wrap_up,
                        std::function<void(const char* step, const grpc::Status&)> done) {
  auto* accept = new AsyncCall<acd::v1::CallEvent, acd::v1::CallEventResponse>;
  accept->request.set_switch_id(switch_id);
  accept->request.set_call_id(call_id);
  accept->request.set_agent_id(agent_id);
  accept->request.set_offer_sequence(offer_sequence);
  accept->request.mutable_offer_accepted();
  switches->async()->ReportCallEvent(
      &accept->context, &accept->request, &accept->response,
      [=](grpc::Status status) {
        delete accept;
        if (!status.ok()) return done("offer_accepted", status);
        auto* end = new AsyncCall<acd::v1::CallEvent, acd::v1::CallEventResponse>;
        end->request.set_switch_id(switch_id);
        end->request.set_call_id(call_id);
        end->request.mutable_call_ended();
        switches->async()->ReportCallEvent(
            &end->context, &end->request, &end->response, [=](grpc::Status status) {
              delete end;
              if (!status.ok() || !wrap_up) return done("call_ended", status);
              auto* wrap = new AsyncCall<acd::v1::SetAgentStateRequest, acd::v1::AgentInfo>;
              wrap->request.set_agent_id(agent_id);
              wrap->request.mutable_end_wrap_up();
              agents->async()->SetAgentState(&wrap->context, &wrap->request, &wrap->response,
                                             [=](grpc::Status status) {
                                               delete wrap;
                                               done("end_wrap_up", status);
                                             });
            });
      });
}

}  // namespace acd::bench

#endif  // ACD_BENCH_ASYNC_CALL_H_
