// SimulatedCenter drives a daemon::Core the way acdd's shell does, on a FakeClock: every input at
// the clock's time, time moved by hand, and the commands the core makes read back. No thread, no
// socket, no sleep: a test says "30 seconds pass" and the timers due by then run.
//   SimulatedCenter center;
//   center.Login("alice", "sales");
//   center.Enqueue("c1", "sales");
//   std::vector<OutgoingCommand> commands = center.TakeCommands();  // OfferCall c1 -> alice
//   center.Wait(absl::Seconds(30));                                  // what fell due meanwhile
#ifndef ACD_TESTS_DAEMON_CORE_FIXTURE_H_
#define ACD_TESTS_DAEMON_CORE_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "acd/v1/acd.pb.h"
#include "daemon/api_convert.h"
#include "daemon/clock.h"
#include "daemon/core.h"
#include "gtest/gtest.h"
#include "routing/policy_text.h"

namespace acd::daemon::testing {

inline const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// The center most core tests run. Its timers are far apart so that each shows on its own:
// sales update prompts every 30 s, hold reminders every 40 s, offers time out after 15 s.
inline constexpr char kCenterPolicy[] = R"(
name: core-test-center
skills: [{name: sales}, {name: support}, {name: billing}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 1}]
    offer_timeout_seconds: 15
    wrap_up_seconds: 30
    prompts: {update_interval_seconds: 30, min_spacing_seconds: 10}
    holds: {reminder_interval_seconds: 40, max_seconds: 200}
  - name: support
    skills: [{skill: support, min_proficiency: 1}]
    offer_timeout_seconds: 15
  - name: billing
    skills: [{skill: billing, min_proficiency: 1}]
    offer_timeout_seconds: 15
    max_wait_seconds: 120
    fallback: "voicemail:billing"
)";

inline std::shared_ptr<const routing::CompiledPolicy> PolicyFromYaml(const std::string& yaml) {
  absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> policy =
      routing::CompilePolicyText(yaml, "test policy");
  if (!policy.ok()) {
    ADD_FAILURE() << policy.status().message();
    return nullptr;
  }
  return *policy;
}

// What a Timestamp on the wire says, computed here rather than by the code under test.
inline absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// Event setters for SimulatedCenter::Event, named as the switch reports them.
inline void Accept(acd::v1::CallEvent* e) { e->mutable_offer_accepted(); }
inline void Reject(acd::v1::CallEvent* e) { e->mutable_offer_rejected()->set_reason("busy"); }
inline void Abandon(acd::v1::CallEvent* e) { e->mutable_caller_abandoned(); }
inline void End(acd::v1::CallEvent* e) { e->mutable_call_ended(); }
inline void CancelConsult(acd::v1::CallEvent* e) { e->mutable_consult_cancelled(); }
inline auto Hold(double expected_seconds, std::string hold_id = "") {
  return [=](acd::v1::CallEvent* e) {
    e->mutable_hold_started()->set_caller_consented(true);
    e->mutable_hold_started()->set_reason("checking_account");
    e->mutable_hold_started()->set_expected_seconds(expected_seconds);
    e->mutable_hold_started()->set_hold_id(hold_id);
  };
}
inline auto Unhold(std::string hold_id = "") {
  return [=](acd::v1::CallEvent* e) { e->mutable_hold_ended()->set_hold_id(hold_id); };
}
// A blind transfer (warm = false) or a consult (warm = true) to `queue`.
inline auto TransferTo(std::string queue, bool warm, std::string reason = "invoice dispute",
                       std::string notes = "invoice 42 billed twice") {
  return [=](acd::v1::CallEvent* e) {
    acd::v1::TransferRequested* t =
        warm ? e->mutable_consult_transfer_requested() : e->mutable_transfer_requested();
    t->set_queue(queue);
    t->set_reason(reason);
    t->set_notes(notes);
  };
}

// An event about `call` from `agent` on `switch_id`; `set` says which event it is.
template <typename SetEvent>
acd::v1::CallEvent CallEventOf(const std::string& call, const std::string& agent, SetEvent set,
                               uint64_t offer_sequence = 0, const std::string& switch_id = "sw1") {
  acd::v1::CallEvent event;
  event.set_switch_id(switch_id);
  event.set_call_id(call);
  event.set_agent_id(agent);
  event.set_offer_sequence(offer_sequence);
  set(&event);
  return event;
}

class SimulatedCenter {
 public:
  explicit SimulatedCenter(CoreOptions options = {}, metrics::CallObserver* observer = nullptr,
                           const std::string& policy_yaml = kCenterPolicy)
      : clock_(kStart),
        core_(PolicyFromYaml(policy_yaml), "test policy", options, observer, clock_.Now()) {}

  Core& core() { return core_; }
  absl::Time now() const { return clock_.Now(); }

  // `d` passes; the core runs what fell due meanwhile, as the shell's wakeup would.
  void Wait(absl::Duration d) {
    clock_.Advance(d);
    core_.AdvanceTo(clock_.Now());
  }
  // The clock moves without the core being woken (an input will catch it up).
  void Pass(absl::Duration d) { clock_.Advance(d); }

  // An agent with `skill` at proficiency 3, ready or not.
  static acd::v1::LoginRequest LoginRequest(const std::string& agent, const std::string& skill,
                                            bool ready = true) {
    acd::v1::LoginRequest request;
    request.set_agent_id(agent);
    acd::v1::AgentSkill* s = request.add_skills();
    s->set_skill(skill);
    s->set_proficiency(3);
    request.set_ready(ready);
    return request;
  }
  absl::Status Login(const std::string& agent, const std::string& skill, bool ready = true) {
    acd::v1::AgentInfo info;
    return core_.Login(LoginRequest(agent, skill, ready), &info, now());
  }

  static acd::v1::EnqueueCallRequest EnqueueRequest(const std::string& call,
                                                    const std::string& queue,
                                                    const std::string& switch_id = "sw1") {
    acd::v1::EnqueueCallRequest request;
    request.set_switch_id(switch_id);
    request.set_call_id(call);
    request.set_queue(queue);
    (*request.mutable_attributes())["account"] = "ACME-42";
    return request;
  }
  // Enqueues; a refusal fails the test unless `status` is given to receive it.
  acd::v1::EnqueueCallResponse Enqueue(const acd::v1::EnqueueCallRequest& request,
                                       absl::Status* status = nullptr) {
    acd::v1::EnqueueCallResponse response;
    ReportStatus(core_.EnqueueCall(request, &response, now()), status);
    return response;
  }
  acd::v1::EnqueueCallResponse Enqueue(const std::string& call, const std::string& queue,
                                       const std::string& switch_id = "sw1") {
    return Enqueue(EnqueueRequest(call, queue, switch_id));
  }

  // Reports one event about `call` from `switch_id`; `set` says which event it is.
  template <typename SetEvent>
  absl::Status Event(const std::string& call, const std::string& agent, SetEvent set,
                     acd::v1::CallState* state = nullptr, uint64_t offer_sequence = 0,
                     const std::string& switch_id = "sw1") {
    acd::v1::CallEventResponse response;
    absl::Status s = core_.ReportCallEvent(CallEventOf(call, agent, set, offer_sequence, switch_id),
                                           &response, now());
    if (state != nullptr) *state = response.state();
    return s;
  }

  // GetCall; a refusal fails the test unless `status` is given to receive it.
  acd::v1::CallInfo GetCall(const std::string& call, absl::Status* status = nullptr) {
    acd::v1::GetCallRequest request;
    request.set_call_id(call);
    acd::v1::CallInfo info;
    ReportStatus(core_.GetCall(request, &info, now()), status);
    return info;
  }
  acd::v1::AgentInfo Agent(const std::string& agent) {
    acd::v1::ListAgentsResponse response;
    EXPECT_TRUE(core_.ListAgents(acd::v1::ListAgentsRequest(), &response).ok());
    for (const acd::v1::AgentInfo& a : response.agents()) {
      if (a.agent_id() == agent) return a;
    }
    ADD_FAILURE() << "no agent " << agent;
    return {};
  }
  acd::v1::QueueInfo Queue(const std::string& queue) {
    acd::v1::ListQueuesResponse response;
    EXPECT_TRUE(core_.ListQueues(&response, now()).ok());
    for (const acd::v1::QueueInfo& q : response.queues()) {
      if (q.queue() == queue) return q;
    }
    ADD_FAILURE() << "no queue " << queue;
    return {};
  }

  std::vector<OutgoingCommand> TakeCommands() { return core_.TakeCommands(); }
  // The commands made since the last take, without their switch.
  std::vector<acd::v1::Command> TakeCommandsOnly() {
    std::vector<acd::v1::Command> out;
    for (OutgoingCommand& c : core_.TakeCommands()) out.push_back(*c.command);
    return out;
  }
  // The one command made since the last take; fails the test (and returns an empty command) when
  // there was not exactly one.
  acd::v1::Command TakeOnlyCommand() {
    std::vector<acd::v1::Command> commands = TakeCommandsOnly();
    if (commands.size() != 1) {
      std::string made;
      for (const acd::v1::Command& c : commands) made += "\n" + c.ShortDebugString();
      ADD_FAILURE() << "expected one command, got " << commands.size() << ":" << made;
      return {};
    }
    return commands.front();
  }
  // The one offer made since the last take (other commands are dropped); fails the test otherwise.
  acd::v1::Command TakeOffer() {
    std::vector<acd::v1::Command> offers;
    for (acd::v1::Command& c : TakeCommandsOnly()) {
      if (c.has_offer_call()) offers.push_back(std::move(c));
    }
    if (offers.size() != 1) {
      ADD_FAILURE() << "expected one offer, got " << offers.size();
      return {};
    }
    return offers.front();
  }

  // Enqueues `call` in `queue` for the ready `agent`, who accepts: the call is connected.
  // Returns the offer's sequence.
  uint64_t Connect(const std::string& call, const std::string& queue, const std::string& agent) {
    Enqueue(call, queue);
    const acd::v1::Command offer = TakeOffer();
    EXPECT_EQ(offer.offer_call().agent_id(), agent);
    acd::v1::CallState state;
    EXPECT_TRUE(Event(call, agent, Accept, &state).ok());
    EXPECT_EQ(state, acd::v1::CALL_STATE_CONNECTED);
    return offer.sequence();
  }

 private:
  // Hands a request's status to `out` when the test asked for it, else expects it OK.
  static void ReportStatus(const absl::Status& status, absl::Status* out) {
    if (out != nullptr) {
      *out = status;
    } else {
      EXPECT_TRUE(status.ok()) << status;
    }
  }

  FakeClock clock_;
  Core core_;
};

// The "what" of every entry in the call's history, in order.
inline std::vector<std::string> Story(const acd::v1::CallInfo& info) {
  std::vector<std::string> story;
  for (const acd::v1::CallHistoryEntry& h : info.history()) story.push_back(h.what());
  return story;
}

}  // namespace acd::daemon::testing

#endif  // ACD_TESTS_DAEMON_CORE_FIXTURE_H_
