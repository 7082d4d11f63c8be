// Whole-process tests: the real acdd on free ports, driven over gRPC as a switch, agent desktops
// and an operator would drive it.
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protos/health.grpc.pb.h"
#include "tests/integration/acdd_process.h"
#include "tests/integration/center.h"

namespace acd::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::string CenterPolicy() { return std::string(ACD_SOURCE_DIR) + "/tests/integration/testdata/center.yaml"; }

TEST(Acdd, ServesACallFromArrivalThroughOfferAnswerEndAndWrapUp) {
  AcddProcess acdd({"--policy", CenterPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  ASSERT_TRUE(center.Login("alice", "sales").ok());

  acd::v1::EnqueueCallResponse enqueued = center.Enqueue("call-1", "sales");
  EXPECT_EQ(enqueued.disposition(), acd::v1::EnqueueCallResponse::DISPOSITION_OFFERED);
  std::optional<acd::v1::Command> offer = commands.Next();
  ASSERT_TRUE(offer && offer->has_offer_call());
  EXPECT_EQ(offer->offer_call().call_id(), "call-1");
  EXPECT_EQ(offer->offer_call().agent_id(), "alice");
  EXPECT_EQ(offer->offer_call().attributes().at("account"), "ACME-42");
  EXPECT_EQ(center.Agent("alice").state(), acd::v1::AGENT_STATE_RESERVED);

  acd::v1::CallState state;
  ASSERT_TRUE(center.Event("call-1", "alice", Accept, &state).ok());
  EXPECT_EQ(state, acd::v1::CALL_STATE_CONNECTED);
  EXPECT_EQ(center.Agent("alice").state(), acd::v1::AGENT_STATE_BUSY);
  ASSERT_TRUE(center.Event("call-1", "alice", End, &state).ok());
  EXPECT_EQ(state, acd::v1::CALL_STATE_ENDED);
  EXPECT_EQ(center.Agent("alice").state(), acd::v1::AGENT_STATE_WRAP_UP);
  ASSERT_TRUE(center.EndWrapUp("alice").ok());
  EXPECT_EQ(center.Agent("alice").state(), acd::v1::AGENT_STATE_READY);

  acd::v1::CallInfo info = center.GetCall("call-1");
  EXPECT_EQ(info.state(), acd::v1::CALL_STATE_ENDED);
  std::vector<std::string> story;
  for (const auto& h : info.history()) story.push_back(h.what());
  EXPECT_THAT(story, ::testing::ElementsAre("enqueued", "offered", "connected", "ended"));
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Acdd, AcknowledgesAWaitingCallerWithPositionAndAnExpectedWait) {
  AcddProcess acdd({"--policy", CenterPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  ASSERT_TRUE(center.Login("alice", "billing").ok());
  EXPECT_EQ(center.Enqueue("c0", "billing").expected_wait_seconds(), 0)
      << "offered at once: a caller who finds a free agent waits for nobody";
  ASSERT_TRUE(commands.Next());
  ASSERT_TRUE(center.Event("c0", "alice", Accept).ok());
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(center.Event("c0", "alice", End).ok());  // teaches billing a handle time (~0.3 s)
  center.Enqueue("c1", "billing");
  ASSERT_TRUE(commands.Next());
  ASSERT_TRUE(center.Event("c1", "alice", Accept).ok());
  acd::v1::EnqueueCallResponse second = center.Enqueue("c2", "billing");
  acd::v1::EnqueueCallResponse third = center.Enqueue("c3", "billing");
  EXPECT_EQ(second.disposition(), acd::v1::EnqueueCallResponse::DISPOSITION_QUEUED);
  EXPECT_EQ(third.position(), 2);
  EXPECT_GT(second.expected_wait_seconds(), 0.25);
  EXPECT_LT(second.expected_wait_seconds(), 2);
  EXPECT_NEAR(third.expected_wait_seconds(), 2 * second.expected_wait_seconds(), 1e-6);
  EXPECT_NEAR(center.GetCall("c3").expected_wait_seconds(), third.expected_wait_seconds(), 1e-6);
  EXPECT_EQ(center.Queue("billing").staffed_agents(), 1);
  EXPECT_NEAR(center.Queue("billing").expected_wait_seconds(), 3 * second.expected_wait_seconds(), 1e-6);
  EXPECT_EQ(center.Queue("sales").expected_wait_seconds(), -1) << "nobody staffs sales";
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Acdd, RoutesCallsOfSeveralQueuesToAgentsWithTheRightSkills) {
  AcddProcess acdd({"--policy", CenterPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  ASSERT_TRUE(center.Login("seller", "sales").ok());
  ASSERT_TRUE(center.Login("biller", "billing").ok());
  center.Enqueue("b1", "billing");
  center.Enqueue("s1", "sales");
  std::map<std::string, std::string> offered;
  for (int i = 0; i < 2; ++i) {
    std::optional<acd::v1::Command> c = commands.Next();
    ASSERT_TRUE(c && c->has_offer_call());
    offered[c->offer_call().call_id()] = c->offer_call().agent_id();
  }
  EXPECT_EQ(offered["b1"], "biller");
  EXPECT_EQ(offered["s1"], "seller");
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Acdd, AnUnansweredOfferIsWithdrawnAndTheCallGoesToTheNextAgent) {
  AcddProcess acdd({"--policy", CenterPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  ASSERT_TRUE(center.Login("first", "billing").ok());
  center.Enqueue("c1", "billing");
  std::optional<acd::v1::Command> offer = commands.Next();
  ASSERT_TRUE(offer && offer->has_offer_call());
  ASSERT_TRUE(center.Login("second", "billing").ok());
  // Offer timeout is 1 s in this policy.
  std::optional<acd::v1::Command> cancel = commands.Next(3s);
  ASSERT_TRUE(cancel && cancel->has_cancel_offer());
  EXPECT_EQ(cancel->cancel_offer().reason(), "no_answer");
  std::optional<acd::v1::Command> again = commands.Next(3s);
  ASSERT_TRUE(again && again->has_offer_call());
  EXPECT_EQ(again->offer_call().agent_id(), "second");
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Acdd, EscalationOverflowsAWaitingCallOnTheEngineClock) {
  AcddProcess acdd({"--policy", CenterPolicy()});
  Center center(acdd);
  EXPECT_EQ(center.Enqueue("c1", "support").position(), 1);
  std::this_thread::sleep_for(1500ms);  // the step is due 1 s after entry
  acd::v1::CallInfo info = center.GetCall("c1");
  EXPECT_EQ(info.queue(), "billing");
  ASSERT_GE(info.history_size(), 2);
  EXPECT_EQ(info.history(1).what(), "overflowed");
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Acdd, RetriesAnswerTheOriginalResult) {
  AcddProcess acdd({"--policy", CenterPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  acd::v1::EnqueueCallResponse first = center.Enqueue("c1", "sales");
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  ASSERT_TRUE(center.Login("alice", "sales").ok()) << "the same login again is a retry";
  acd::v1::EnqueueCallResponse again = center.Enqueue("c1", "sales");
  EXPECT_EQ(again.disposition(), first.disposition());
  EXPECT_EQ(again.position(), first.position());
  ASSERT_TRUE(commands.Next());
  acd::v1::CallState state;
  ASSERT_TRUE(center.Event("c1", "alice", Accept, &state).ok());
  ASSERT_TRUE(center.Event("c1", "alice", Accept, &state).ok()) << "a retried answer";
  EXPECT_EQ(state, acd::v1::CALL_STATE_CONNECTED);
  grpc::Status other;
  center.Enqueue("c1", "sales", &other, "sw2");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  grpc::Status reused;
  center.Enqueue("c1", "billing", &reused);  // same switch, same id, another call
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(reused.error_message(), HasSubstr("retry must repeat the request exactly"));
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

void Answer(acd::v1::CallEvent* e) { e->mutable_answered(); }
void HoldForAccountCheck(acd::v1::CallEvent* e) {
  e->mutable_hold_started()->set_caller_consented(true);
  e->mutable_hold_started()->set_reason("checking_account");
  e->mutable_hold_started()->set_expected_seconds(60);
}
void Unhold(acd::v1::CallEvent* e) { e->mutable_hold_ended(); }

TEST(Acdd, KeepsTheAnswerAndEveryHoldWithItsConsentReasonAndTime) {
  AcddProcess acdd({"--policy", CenterPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  ASSERT_TRUE(center.Login("alice", "billing").ok());
  center.Enqueue("c1", "billing");
  ASSERT_TRUE(commands.Next());
  EXPECT_EQ(center.Event("c1", "alice", HoldForAccountCheck).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION) << "a ringing caller cannot be held";
  acd::v1::CallState state;
  ASSERT_TRUE(center.Event("c1", "alice", Answer, &state).ok()) << "answering a ringing offer takes it";
  EXPECT_EQ(state, acd::v1::CALL_STATE_CONNECTED);
  EXPECT_EQ(center.Event("c1", "alice", Unhold).error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << "never held";

  ASSERT_TRUE(center.Event("c1", "alice", HoldForAccountCheck).ok());
  ASSERT_TRUE(center.Event("c1", "alice", HoldForAccountCheck).ok()) << "a repeat is a no-op";
  acd::v1::CallInfo held = center.GetCall("c1");
  EXPECT_TRUE(held.on_hold());
  EXPECT_EQ(held.hold_count(), 1u);
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(center.Event("c1", "alice", Unhold).ok());
  ASSERT_TRUE(center.Event("c1", "alice", Unhold).ok()) << "a repeat is a no-op";
  acd::v1::CallInfo back = center.GetCall("c1");
  EXPECT_FALSE(back.on_hold());
  EXPECT_GE(back.hold_seconds(), 0.2);
  EXPECT_LT(back.hold_seconds(), 5);

  ASSERT_TRUE(center.Event("c1", "alice", HoldForAccountCheck).ok());  // a second hold...
  ASSERT_TRUE(center.Event("c1", "alice", End).ok());                  // ...closed by the end
  acd::v1::CallInfo done = center.GetCall("c1");
  EXPECT_FALSE(done.on_hold());
  EXPECT_EQ(done.hold_count(), 2u);
  std::vector<std::string> story;
  for (const auto& h : done.history()) story.push_back(h.what());
  EXPECT_THAT(story, ::testing::ElementsAre("enqueued", "offered", "connected", "answered",
                                            "hold_started", "hold_ended", "hold_started", "ended"));
  EXPECT_THAT(done.history(4).detail(), HasSubstr("checking_account, caller consented, expected 60 s"));
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Acdd, ATransferCarriesTheCallsContextToTheNextAgentsOffer) {
  AcddProcess acdd({"--policy", CenterPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  ASSERT_TRUE(center.Login("seller", "sales").ok());
  center.Enqueue("c1", "sales");
  ASSERT_TRUE(commands.Next());
  ASSERT_TRUE(center.Event("c1", "seller", Accept).ok());
  ASSERT_TRUE(center.Login("biller", "billing").ok());

  auto transfer = [](acd::v1::CallEvent* e) {
    e->mutable_transfer_requested()->set_queue("billing");
    e->mutable_transfer_requested()->set_reason("invoice dispute");
    e->mutable_transfer_requested()->set_notes("invoice 42 billed twice; customer verified");
  };
  ASSERT_TRUE(center.Event("c1", "seller", transfer).ok());
  ASSERT_TRUE(center.Event("c1", "seller", transfer).ok()) << "a repeat of the same transfer is a retry";

  std::optional<acd::v1::Command> offer = commands.Next();
  ASSERT_TRUE(offer && offer->has_offer_call());
  EXPECT_EQ(offer->offer_call().agent_id(), "biller");
  const acd::v1::CallContext& context = offer->offer_call().context();
  EXPECT_EQ(context.transfers(), 1u);
  EXPECT_THAT(context.previous_queues(), ::testing::ElementsAre("sales"));
  EXPECT_THAT(context.previous_agents(), ::testing::ElementsAre("seller"));
  EXPECT_EQ(context.transfer_reason(), "invoice dispute");
  EXPECT_THAT(context.notes(), ::testing::ElementsAre("invoice 42 billed twice; customer verified"));
  EXPECT_EQ(offer->offer_call().attributes().at("account"), "ACME-42") << "the IVR's data too";
  EXPECT_EQ(center.Agent("seller").state(), acd::v1::AGENT_STATE_WRAP_UP);
  EXPECT_EQ(commands.Next(300ms), std::nullopt) << "one offer, not two";

  acd::v1::CallInfo info = center.GetCall("c1");
  EXPECT_EQ(info.queue(), "billing");
  EXPECT_EQ(info.context().transfers(), 1u);
  EXPECT_EQ(center.Event("c1", "mallory", transfer).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION) << "only the agent on the call can transfer it";
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Acdd, EventsNamingTheirOfferOrHoldAreRetriedExactly) {
  AcddProcess acdd({"--policy", CenterPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  ASSERT_TRUE(center.Login("alice", "billing").ok());
  center.Enqueue("c1", "billing");
  std::optional<acd::v1::Command> offer = commands.Next();
  ASSERT_TRUE(offer);
  auto event = [&](auto set, uint64_t sequence, grpc::Status* status) {
    *status = center.Event("c1", "alice", set, nullptr, sequence);
  };
  grpc::Status s;
  event([](acd::v1::CallEvent* e) { e->mutable_offer_accepted(); }, offer->sequence(), &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  event([](acd::v1::CallEvent* e) { e->mutable_answered(); }, offer->sequence(), &s);
  EXPECT_TRUE(s.ok()) << "answered names the accepted offer: " << s.error_message();

  auto hold = [](const char* id) {
    return [id](acd::v1::CallEvent* e) { e->mutable_hold_started()->set_hold_id(id); };
  };
  auto unhold = [](const char* id) {
    return [id](acd::v1::CallEvent* e) { e->mutable_hold_ended()->set_hold_id(id); };
  };
  event(hold("h1"), 0, &s);
  event(unhold("h1"), 0, &s);
  event(hold("h1"), 0, &s);  // a late retry of the first hold
  EXPECT_TRUE(s.ok());
  EXPECT_FALSE(center.GetCall("c1").on_hold()) << "a retried hold id starts nothing";
  EXPECT_EQ(center.GetCall("c1").hold_count(), 1u);

  // Transfer back into billing (alice is its only agent, so it comes back to her later).
  auto transfer = [](acd::v1::CallEvent* e) { e->mutable_transfer_requested()->set_queue("billing"); };
  event(transfer, offer->sequence(), &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::optional<acd::v1::Command> again = commands.Next(5s);  // after the 1 s agent-wait window
  ASSERT_TRUE(again && again->has_offer_call());
  event([](acd::v1::CallEvent* e) { e->mutable_offer_accepted(); }, again->sequence(), &s);
  ASSERT_TRUE(s.ok());
  event(transfer, offer->sequence(), &s);  // a late retry of the first transfer
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(center.GetCall("c1").context().transfers(), 1u) << "the retry did not transfer again";
  EXPECT_EQ(center.GetCall("c1").state(), acd::v1::CALL_STATE_CONNECTED);
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Acdd, AnEventRefusedBeforeItsTimeIsJudgedAfreshWhenSentAgain) {
  AcddProcess acdd({"--policy", CenterPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  ASSERT_TRUE(center.Login("alice", "billing").ok());
  center.Enqueue("c1", "billing");
  ASSERT_TRUE(commands.Next());
  // The switch reports the end before its (delayed) accept: refused, and nothing happened.
  EXPECT_EQ(center.Event("c1", "alice", End).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  acd::v1::CallState state;
  ASSERT_TRUE(center.Event("c1", "alice", Accept, &state).ok());
  EXPECT_EQ(state, acd::v1::CALL_STATE_CONNECTED);
  ASSERT_TRUE(center.Event("c1", "alice", End, &state).ok()) << "the real end is not a replay";
  EXPECT_EQ(state, acd::v1::CALL_STATE_ENDED);
  EXPECT_EQ(center.Agent("alice").state(), acd::v1::AGENT_STATE_READY);  // billing: no wrap-up
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Acdd, ACommandStreamThatDropsGetsWhatIsPendingOnReconnect) {
  AcddProcess acdd({"--policy", CenterPolicy()});
  Center center(acdd);
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  auto reader = std::make_unique<CommandReader>(center.sw.get(), "sw1");
  center.Enqueue("c1", "sales");
  std::optional<acd::v1::Command> first = reader->Next();
  ASSERT_TRUE(first && first->has_offer_call());
  reader.reset();  // the switch loses its connection
  ASSERT_TRUE(center.Login("bob", "billing").ok());
  center.Enqueue("c2", "billing");  // offered while nobody listens
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(center.GetCall("c1").state(), acd::v1::CALL_STATE_OFFERED) << "calls stay put";

  CommandReader again(center.sw.get(), "sw1");
  std::map<std::string, bool> offers;  // call -> resent
  for (int i = 0; i < 2; ++i) {
    std::optional<acd::v1::Command> c = again.Next();
    ASSERT_TRUE(c && c->has_offer_call());
    offers[c->offer_call().call_id()] = c->resent();
  }
  EXPECT_EQ(offers.size(), 2u);
  EXPECT_FALSE(offers["c2"]) << "never delivered: sent for the first time";
  EXPECT_TRUE(offers["c1"]) << "delivered before the drop and still outstanding: resent";
  acd::v1::ListCallsRequest list;
  list.set_switch_id("sw1");
  acd::v1::ListCallsResponse calls;
  ASSERT_TRUE(Rpc([&](grpc::ClientContext* c) { return center.sw->ListCalls(c, list, &calls); }).ok());
  ASSERT_EQ(calls.calls_size(), 2);
  EXPECT_EQ(calls.calls(0).call_id(), "c1");
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Acdd, ReloadsThePolicyMidTrafficWithoutLosingACall) {
  const std::string path = ::testing::TempDir() + "/reload_policy.yaml";
  std::ifstream original(CenterPolicy());
  std::stringstream text;
  text << original.rdbuf();
  std::ofstream(path) << text.str();
  AcddProcess acdd({"--policy", path});
  Center center(acdd);
  for (const char* id : {"w1", "w2", "w3"}) center.Enqueue(id, "sales");

  // Dry run: nothing changes, the diff says what would.
  std::string changed = text.str();
  changed.replace(changed.find("name: integration-center"), 24, "name: integration-center-v2");
  acd::v1::SetPolicyRequest dry;
  dry.set_yaml(changed);
  dry.set_validate_only(true);
  acd::v1::SetPolicyResponse dry_response;
  ASSERT_TRUE(Rpc([&](grpc::ClientContext* c) { return center.admin->SetPolicy(c, dry, &dry_response); }).ok());
  EXPECT_FALSE(dry_response.applied());
  EXPECT_THAT(dry_response.diff(), HasSubstr("+name: integration-center-v2"));

  // An invalid policy is refused with every problem, and the old one keeps running.
  acd::v1::SetPolicyRequest bad;
  bad.set_yaml("queues:\n  - name: sales\n    skills: [{skill: nope, min_proficiency: 9}]\n");
  acd::v1::SetPolicyResponse bad_response;
  grpc::Status refused = Rpc([&](grpc::ClientContext* c) { return center.admin->SetPolicy(c, bad, &bad_response); });
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(), HasSubstr("unknown skill 'nope'"));
  EXPECT_THAT(refused.error_message(), HasSubstr("proficiency runs from 1 to 5"));

  // SIGHUP applies the file when it is valid.
  std::ofstream(path) << changed;
  acdd.Signal(SIGHUP);
  acd::v1::PolicyInfo policy;
  for (int i = 0; i < 50 && policy.policy().name() != "integration-center-v2"; ++i) {
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(Rpc([&](grpc::ClientContext* c) { return center.admin->GetPolicy(c, acd::v1::GetPolicyRequest(), &policy); }).ok());
  }
  EXPECT_EQ(policy.policy().name(), "integration-center-v2");
  EXPECT_EQ(center.Queue("sales").calls_waiting(), 3) << "no call lost in the reload";
  // ... and keeps the running policy when the file is broken.
  std::ofstream(path) << "queues: [{name: }]\n";
  acdd.Signal(SIGHUP);
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(Rpc([&](grpc::ClientContext* c) { return center.admin->GetPolicy(c, acd::v1::GetPolicyRequest(), &policy); }).ok());
  EXPECT_EQ(policy.policy().name(), "integration-center-v2");
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  EXPECT_EQ(center.Queue("sales").calls_waiting(), 2) << "still routing after the refused reload";
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Acdd, BadInputGetsAClearErrorAndLeavesNothingBehind) {
  AcddProcess acdd({"--policy", CenterPolicy()});
  Center center(acdd);
  grpc::Status s;
  center.Enqueue("", "sales", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("call_id"));
  center.Enqueue(std::string(300, 'x'), "sales", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  center.Enqueue("c1", "no-such-queue", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("no-such-queue"));
  {
    acd::v1::EnqueueCallRequest request;
    request.set_switch_id("sw1");
    request.set_call_id("c2");
    request.set_queue("sales");
    auto* skill = request.add_required_skills();
    skill->set_skill("juggling");
    skill->set_min_proficiency(2);
    acd::v1::EnqueueCallResponse response;
    s = Rpc([&](grpc::ClientContext* c) { return center.sw->EnqueueCall(c, request, &response); });
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("juggling"));
    request.clear_required_skills();
    (*request.mutable_attributes())["notes"] = std::string(5000, 'n');
    s = Rpc([&](grpc::ClientContext* c) { return center.sw->EnqueueCall(c, request, &response); });
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("attributes"));
  }
  EXPECT_EQ(center.Event("ghost", "alice", Accept).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(center.SetReady("nobody").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(center.Login("alice", "sales", /*ready=*/false).ok());
  EXPECT_EQ(center.EndWrapUp("alice").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  {
    acd::v1::LoginRequest request;
    request.set_agent_id("carol");
    auto* skill = request.add_skills();
    skill->set_skill("sales");
    skill->set_proficiency(7);
    acd::v1::AgentInfo info;
    s = Rpc([&](grpc::ClientContext* c) { return center.agents->Login(c, request, &info); });
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    acd::v1::CallEvent event;  // no event set
    event.set_switch_id("sw1");
    event.set_call_id("c3");
    acd::v1::CallEventResponse response;
    s = Rpc([&](grpc::ClientContext* c) { return center.sw->ReportCallEvent(c, event, &response); });
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // A full queue turns the caller to its fallback.
  EXPECT_EQ(center.Enqueue("t1", "tiny").disposition(), acd::v1::EnqueueCallResponse::DISPOSITION_QUEUED);
  acd::v1::EnqueueCallResponse full = center.Enqueue("t2", "tiny");
  EXPECT_EQ(full.disposition(), acd::v1::EnqueueCallResponse::DISPOSITION_SENT_TO_FALLBACK);
  EXPECT_EQ(full.fallback(), "voicemail:tiny");
  // An offer answered by the wrong agent is refused and leaves the real one reserved, not stuck.
  ASSERT_TRUE(center.SetReady("alice").ok());
  center.Enqueue("c4", "sales");
  EXPECT_EQ(center.Event("c4", "mallory", Accept).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(center.Event("c4", "alice", Reject).ok());
  // Nothing leaked: only the calls that were accepted are held.
  EXPECT_EQ(center.Queue("tiny").calls_waiting(), 1);
  EXPECT_EQ(center.Queue("sales").calls_waiting() + (center.GetCall("c4").state() == acd::v1::CALL_STATE_OFFERED), 1);
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Acdd, KeepsAtMostMaxFinishedCallsForRetriesAndGetCall) {
  AcddProcess acdd({"--policy", CenterPolicy(), "--max_finished_calls", "2"});
  Center center(acdd);
  for (const char* id : {"f1", "f2", "f3"}) {
    center.Enqueue(id, "sales");
    ASSERT_TRUE(center.Event(id, "", Abandon).ok());
  }
  grpc::Status forgotten;
  center.GetCall("f1", &forgotten);
  EXPECT_EQ(forgotten.error_code(), grpc::StatusCode::NOT_FOUND) << "the oldest finished call went";
  EXPECT_EQ(center.GetCall("f2").state(), acd::v1::CALL_STATE_ABANDONED);
  EXPECT_EQ(center.GetCall("f3").state(), acd::v1::CALL_STATE_ABANDONED);
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Acdd, ReportsServingOnTheStandardHealthService) {
  AcddProcess acdd({});
  auto health = grpc::health::v1::Health::NewStub(acdd.channel());
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(Rpc([&](grpc::ClientContext* c) { return health->Check(c, grpc::health::v1::HealthCheckRequest(), &response); }).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Acdd, SigtermDrainsClosesStreamsCleanlyAndExitsZero) {
  AcddProcess acdd({"--policy", CenterPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  center.Enqueue("c1", "sales");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
  std::optional<grpc::Status> ended = commands.WaitFinished();
  ASSERT_TRUE(ended);
  EXPECT_TRUE(ended->ok()) << ended->error_message();
}

}  // namespace
}  // namespace acd::testing
