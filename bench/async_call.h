// What bench's gRPC clients (acdload, acdfill, acdfailover) share: a unary call in flight on the
// callback API, which its completion deletes; how they give up on an RPC that must not fail; and
// how their agents answer an offer, over the unary RPCs or (acdload --mode session) a session.
//   auto* login = new AsyncCall<acd::v1::LoginRequest, acd::v1::AgentInfo>;
//   stub->async()->Login(&login->context, &login->request, &login->response,
//                        [login](grpc::Status s) { if (!s.ok()) Die("Login", s); delete login; });
//   AnswerOffer(switches, agents, switch_id, call_id, agent_id, sequence, wrap_up, done);
#ifndef ACD_BENCH_ASYNC_CALL_H_
#define ACD_BENCH_ASYNC_CALL_H_

#include <errno.h>  // program_invocation_short_name (GNU)

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
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

// Where an agent's answer to an offer goes: a call event and an agent state change, each answered
// once with a status, on gRPC's threads. RpcAgentAnswers sends them as unary RPCs; acdload's
// switch links send them as unary RPCs it counts in flight, or on the switch's session.
class AgentAnswers {
 public:
  using Done = std::function<void(const grpc::Status&)>;
  virtual ~AgentAnswers() = default;
  virtual void ReportCallEvent(const acd::v1::CallEvent& event, Done done) = 0;
  virtual void SetAgentState(const acd::v1::SetAgentStateRequest& request, Done done) = 0;
};

// AgentAnswers over SwitchService.ReportCallEvent and AgentService.SetAgentState.
class RpcAgentAnswers : public AgentAnswers {
 public:
  // REQUIRES: both stubs outlive every call made through this.
  RpcAgentAnswers(acd::v1::SwitchService::Stub* switches, acd::v1::AgentService::Stub* agents)
      : switches_(switches), agents_(agents) {}

  void ReportCallEvent(const acd::v1::CallEvent& event, Done done) override {
    auto* call = new AsyncCall<acd::v1::CallEvent, acd::v1::CallEventResponse>;
    call->request = event;
    switches_->async()->ReportCallEvent(&call->context, &call->request, &call->response,
                                        [call, done = std::move(done)](grpc::Status status) {
                                          delete call;
                                          done(status);
                                        });
  }
  void SetAgentState(const acd::v1::SetAgentStateRequest& request, Done done) override {
    auto* call = new AsyncCall<acd::v1::SetAgentStateRequest, acd::v1::AgentInfo>;
    call->request = request;
    agents_->async()->SetAgentState(&call->context, &call->request, &call->response,
                                    [call, done = std::move(done)](grpc::Status status) {
                                      delete call;
                                      done(status);
                                    });
  }

 private:
  acd::v1::SwitchService::Stub* const switches_;
  acd::v1::AgentService::Stub* const agents_;
};

// An agent's answer to offer `offer_sequence` of `call_id`: the events a real desktop and switch
// send when the agent takes the call, the call ends, and (when `wrap_up`) the agent ends its
// wrap-up, in that order.
struct OfferAnswer {
  acd::v1::CallEvent accept, end;
  acd::v1::SetAgentStateRequest wrap;

  OfferAnswer(const std::string& switch_id, const std::string& call_id,
              const std::string& agent_id, uint64_t offer_sequence) {
    accept.set_switch_id(switch_id);
    accept.set_call_id(call_id);
    accept.set_agent_id(agent_id);
    accept.set_offer_sequence(offer_sequence);
    accept.mutable_offer_accepted();
    end.set_switch_id(switch_id);
    end.set_call_id(call_id);
    end.mutable_call_ended();
    wrap.set_agent_id(agent_id);
    wrap.mutable_end_wrap_up();
  }
};

// Sends the OfferAnswer's events each when the one before is answered. `done` runs once: with OK
// after the last step, or with the first step that failed and why.
inline void AnswerOffer(std::shared_ptr<AgentAnswers> answers, const std::string& switch_id,
                        const std::string& call_id, const std::string& agent_id,
                        uint64_t offer_sequence, bool wrap_up,
                        std::function<void(const char* step, const grpc::Status&)> done) {
  auto answer = std::make_shared<OfferAnswer>(switch_id, call_id, agent_id, offer_sequence);
  answers->ReportCallEvent(answer->accept, [=](const grpc::Status& status) {
    if (!status.ok()) return done("offer_accepted", status);
    answers->ReportCallEvent(answer->end, [=](const grpc::Status& status) {
      if (!status.ok() || !wrap_up) return done("call_ended", status);
      answers->SetAgentState(answer->wrap,
                             [=](const grpc::Status& status) { done("end_wrap_up", status); });
    });
  });
}

// The same events sent together without waiting for each answer, as a session may (it handles a
// switch's requests in the order sent; unary RPCs promise no order). `done` runs once, when all
// are answered: with OK, or with the first step that failed and why.
inline void AnswerOfferPipelined(std::shared_ptr<AgentAnswers> answers,
                                 const std::string& switch_id, const std::string& call_id,
                                 const std::string& agent_id, uint64_t offer_sequence, bool wrap_up,
                                 std::function<void(const char* step, const grpc::Status&)> done) {
  struct Steps {
    std::mutex mu;
    int left;
    const char* failed_step = nullptr;
    grpc::Status failed;
  };
  auto steps = std::make_shared<Steps>();
  steps->left = wrap_up ? 3 : 2;
  auto answered = [steps, done](const char* step) {
    return [steps, done, step](const grpc::Status& status) {
      std::unique_lock<std::mutex> lock(steps->mu);
      if (!status.ok() && steps->failed_step == nullptr) {
        steps->failed_step = step;
        steps->failed = status;
      }
      if (--steps->left > 0) return;
      lock.unlock();
      if (steps->failed_step != nullptr) return done(steps->failed_step, steps->failed);
      done("answered", grpc::Status::OK);
    };
  };
  const OfferAnswer answer(switch_id, call_id, agent_id, offer_sequence);
  answers->ReportCallEvent(answer.accept, answered("offer_accepted"));
  answers->ReportCallEvent(answer.end, answered("call_ended"));
  if (wrap_up) answers->SetAgentState(answer.wrap, answered("end_wrap_up"));
}

// The same over the unary RPCs.
// REQUIRES: both stubs outlive the chain.
inline void AnswerOffer(acd::v1::SwitchService::Stub* switches, acd::v1::AgentService::Stub* agents,
                        const std::string& switch_id, const std::string& call_id,
                        const std::string& agent_id, uint64_t offer_sequence, bool wrap_up,
                        std::function<void(const char* step, const grpc::Status&)> done) {
  AnswerOffer(std::make_shared<RpcAgentAnswers>(switches, agents), switch_id, call_id, agent_id,
              offer_sequence, wrap_up, std::move(done));
}

}  // namespace acd::bench

#endif  // ACD_BENCH_ASYNC_CALL_H_
