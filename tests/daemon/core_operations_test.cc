// The core on simulated time, for its operations side: policy reloads under live calls, finished
// calls kept for GetCall and retries and forgotten after their retention, and the figures the
// core reports to the metrics.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "daemon/core.h"
#include "daemon/policy_request.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/acd_metrics.h"
#include "metrics/call_observer.h"
#include "routing/policy_text.h"
#include "tests/daemon/core_fixture.h"

namespace acd::daemon::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// The center's policy under another name, and with sales' updates every 60 s instead of 30.
std::string RenamedPolicy() {
  return absl::StrReplaceAll(kCenterPolicy,
                             {{"name: core-test-center", "name: core-test-v2"},
                              {"update_interval_seconds: 30", "update_interval_seconds: 60"}});
}

constexpr char kInvalidPolicy[] = R"(
skills: [{name: sales}]
queues:
  - name: sales
    skills: [{skill: nope, min_proficiency: 9}]
)";

constexpr char kPolicyWithoutBilling[] = R"(
name: no-billing
skills: [{name: sales}, {name: support}]
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 1}]
  - name: support
    skills: [{skill: support, min_proficiency: 1}]
)";

// Hands `yaml` to SetPolicy at the center's time: a dry run when `validate_only`.
absl::Status SetPolicy(SimulatedCenter& center, const std::string& yaml, bool validate_only,
                       acd::v1::SetPolicyResponse* response) {
  acd::v1::SetPolicyRequest request;
  request.set_yaml(yaml);
  request.set_validate_only(validate_only);
  return center.core().SetPolicy(request, response, center.now());
}

acd::v1::PolicyInfo Running(SimulatedCenter& center) {
  acd::v1::PolicyInfo info;
  EXPECT_TRUE(center.core().GetPolicy(&info).ok());
  return info;
}

// ---------------------------------------------------------------------------------------------
// Policy reload.

TEST(CorePolicy, AValidationOnlyRequestAnswersTheDiffAndChangesNothing) {
  SimulatedCenter center;
  center.Pass(absl::Seconds(30));
  acd::v1::SetPolicyResponse response;
  ASSERT_TRUE(SetPolicy(center, RenamedPolicy(), true, &response).ok());
  EXPECT_FALSE(response.applied());
  EXPECT_THAT(response.problems(), IsEmpty());
  EXPECT_THAT(response.diff(), HasSubstr("-name: core-test-center"));
  EXPECT_THAT(response.diff(), HasSubstr("+name: core-test-v2"));
  const acd::v1::PolicyInfo running = Running(center);
  EXPECT_EQ(running.policy().name(), "core-test-center");
  EXPECT_EQ(running.source(), "test policy");
  EXPECT_EQ(TimeOf(running.applied_at()), kStart);
}

// acdd makes SetPolicy's diff on gRPC's thread, against the policy the engine last published
// (DiffFrom); the core answers it only if that policy still runs when the request reaches it.
TEST(CorePolicy, ADiffMadeOffTheEngineIsAnsweredWhileThePolicyItWasMadeFromStillRuns) {
  SimulatedCenter center;
  acd::v1::SetPolicyRequest request;
  request.set_yaml(RenamedPolicy());
  request.set_validate_only(true);
  absl::StatusOr<PolicyRequestPrepared> prepared = PreparePolicyRequest(request);
  ASSERT_TRUE(prepared.ok());
  DiffFrom(center.core().router().shared_policy(), *prepared);
  EXPECT_THAT(prepared->diff, HasSubstr("-name: core-test-center"));
  EXPECT_THAT(prepared->diff, HasSubstr("+name: core-test-v2"));
  prepared->diff = "the diff gRPC's thread made";  // so that the answer shows which one it is

  acd::v1::SetPolicyResponse response;
  ASSERT_TRUE(center.core().SetPolicy(request, &response, center.now(), &*prepared).ok());
  EXPECT_EQ(response.diff(), "the diff gRPC's thread made");
}

TEST(CorePolicy, ADiffMadeFromAPolicyNoLongerRunningIsMadeAgainByTheCore) {
  SimulatedCenter center;
  acd::v1::SetPolicyRequest request;
  request.set_yaml(RenamedPolicy());
  absl::StatusOr<PolicyRequestPrepared> prepared = PreparePolicyRequest(request);
  ASSERT_TRUE(prepared.ok());
  DiffFrom(center.core().router().shared_policy(), *prepared);
  // Another policy is applied before the request reaches the core.
  ASSERT_TRUE(center.core()
                  .ApplyPolicyText(absl::StrReplaceAll(kCenterPolicy,
                                                       {{"core-test-center", "core-test-between"}}),
                                   "/etc/acd/policy.yaml", center.now())
                  .ok());

  acd::v1::SetPolicyResponse response;
  ASSERT_TRUE(center.core().SetPolicy(request, &response, center.now(), &*prepared).ok());
  EXPECT_TRUE(response.applied());
  EXPECT_NE(response.diff(), prepared->diff);
  EXPECT_THAT(response.diff(), HasSubstr("-name: core-test-between"));
  EXPECT_THAT(response.diff(), HasSubstr("+name: core-test-v2"));
}

TEST(CorePolicy, AnInvalidPolicyIsRefusedWithEveryProblemAndTheRunningOneStays) {
  SimulatedCenter center;
  acd::v1::SetPolicyResponse dry;
  ASSERT_TRUE(SetPolicy(center, kInvalidPolicy, true, &dry).ok());
  ASSERT_THAT(dry.problems(), SizeIs(2));
  EXPECT_EQ(dry.diff(), "");

  acd::v1::SetPolicyResponse response;
  absl::Status refused = SetPolicy(center, kInvalidPolicy, false, &response);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("unknown skill 'nope'"));
  EXPECT_THAT(refused.message(), HasSubstr("proficiency runs from 1 to 5"));
  EXPECT_FALSE(response.applied());
  EXPECT_THAT(response.problems(), SizeIs(2));
  EXPECT_EQ(Running(center).policy().name(), "core-test-center");

  absl::Status reload =
      center.core().ApplyPolicyText("queues: [{name: }]\n", "/etc/acd/p.yaml", center.now());
  EXPECT_EQ(reload.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reload.message(), HasSubstr("/etc/acd/p.yaml"));
  EXPECT_EQ(Running(center).policy().name(), "core-test-center");
  EXPECT_EQ(Running(center).source(), "test policy");
}

TEST(CorePolicy, AValidPolicyIsAppliedWhileCallsWaitAndTheyKeepTheirPlaceAndArrival) {
  SimulatedCenter center;
  for (const char* id : {"w1", "w2", "w3"}) {
    center.Enqueue(id, "sales");
    center.Pass(absl::Seconds(5));
  }
  center.Pass(absl::Seconds(5));  // 20 s: the updates under the running policy are due at 30 s+
  center.TakeCommands();

  acd::v1::SetPolicyResponse response;
  ASSERT_TRUE(SetPolicy(center, RenamedPolicy(), false, &response).ok());
  EXPECT_TRUE(response.applied());
  EXPECT_THAT(response.problems(), IsEmpty());
  const acd::v1::PolicyInfo running = Running(center);
  EXPECT_EQ(running.policy().name(), "core-test-v2");
  EXPECT_EQ(running.source(), "admin api");
  EXPECT_EQ(TimeOf(running.applied_at()), center.now());

  for (int i = 0; i < 3; ++i) {
    const acd::v1::CallInfo call = center.GetCall("w" + std::to_string(i + 1));
    EXPECT_EQ(call.state(), acd::v1::CALL_STATE_WAITING);
    EXPECT_EQ(call.position(), i + 1);
    EXPECT_EQ(TimeOf(call.arrived()), kStart + absl::Seconds(5 * i));
  }
  EXPECT_EQ(center.Queue("sales").calls_waiting(), 3);
  EXPECT_EQ(center.Queue("sales").oldest_wait_seconds(), 20);
  EXPECT_EQ(center.core().NextWakeup(), kStart + absl::Seconds(60))
      << "w1's next update on the new 60 s cadence";
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  EXPECT_EQ(center.TakeOffer().offer_call().call_id(), "w1") << "still first in line";
}

TEST(CorePolicy, APolicyThatDropsAQueueLiveCallsUseIsRefusedAndChangesNothing) {
  SimulatedCenter center;
  center.Enqueue("c1", "billing");
  acd::v1::SetPolicyResponse dry;
  ASSERT_TRUE(SetPolicy(center, kPolicyWithoutBilling, true, &dry).ok());
  ASSERT_THAT(dry.problems(), SizeIs(1));
  EXPECT_THAT(dry.problems(0).message(), HasSubstr("queue 'billing' (call 'c1')"));

  acd::v1::SetPolicyResponse response;
  absl::Status refused = SetPolicy(center, kPolicyWithoutBilling, false, &response);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("queue 'billing' (call 'c1')"));
  EXPECT_FALSE(response.applied());
  EXPECT_EQ(Running(center).policy().name(), "core-test-center");
  EXPECT_EQ(center.GetCall("c1").queue(), "billing");
  EXPECT_EQ(center.Queue("billing").calls_waiting(), 1);
}

TEST(CorePolicy, AReloadedPolicyFileIsAppliedWithItsFileAsTheSource) {
  SimulatedCenter center;
  center.Pass(absl::Seconds(9));
  ASSERT_TRUE(
      center.core().ApplyPolicyText(RenamedPolicy(), "/etc/acd/policy.yaml", center.now()).ok());
  const acd::v1::PolicyInfo running = Running(center);
  EXPECT_EQ(running.policy().name(), "core-test-v2");
  EXPECT_EQ(running.source(), "/etc/acd/policy.yaml");
  EXPECT_EQ(TimeOf(running.applied_at()), kStart + absl::Seconds(9));
}

TEST(CorePolicy, AReloadTakesThePolicyItsTextWasCompiledIntoOffTheEngineThread) {
  SimulatedCenter center;
  const absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> compiled =
      routing::CompilePolicyText(RenamedPolicy(), "/etc/acd/policy.yaml");
  ASSERT_TRUE(compiled.ok());
  ASSERT_TRUE(center.core()
                  .ApplyPolicyText(RenamedPolicy(), "/etc/acd/policy.yaml", center.now(), &compiled)
                  .ok());
  EXPECT_EQ(&center.core().router().policy(), compiled->get());  // not compiled again
  EXPECT_EQ(Running(center).yaml(), (*compiled)->yaml());

  const absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> refused =
      routing::CompilePolicyText("queues: [{name: }]\n", "/etc/acd/p.yaml");
  absl::Status reload = center.core().ApplyPolicyText("queues: [{name: }]\n", "/etc/acd/p.yaml",
                                                      center.now(), &refused);
  EXPECT_EQ(reload.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reload.message(), HasSubstr("/etc/acd/p.yaml"));
  EXPECT_EQ(Running(center).policy().name(), "core-test-v2");
}

// ---------------------------------------------------------------------------------------------
// Finished calls.

TEST(CoreFinishedCalls, AFinishedCallShowsHowItEndedItsAgentAndItsArrival) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Pass(absl::Seconds(3));
  center.Connect("ended", "sales", "alice");
  center.Enqueue("abandoned", "support");
  center.Enqueue("fallback", "billing");
  center.Pass(absl::Seconds(40));
  ASSERT_TRUE(center.Event("ended", "alice", End).ok());
  ASSERT_TRUE(center.Event("abandoned", "", Abandon).ok());
  center.TakeCommands();

  // billing's max_wait_seconds is 120: the call leaves for its fallback then.
  center.Wait(absl::Seconds(80) - absl::Milliseconds(1));
  EXPECT_EQ(center.GetCall("fallback").state(), acd::v1::CALL_STATE_WAITING);
  center.TakeCommands();  // its update prompts
  center.Wait(absl::Milliseconds(1));
  const acd::v1::Command fallback = center.TakeOnlyCommand();
  ASSERT_TRUE(fallback.has_send_to_fallback()) << fallback.DebugString();
  EXPECT_EQ(fallback.send_to_fallback().target(), "voicemail:billing");
  EXPECT_EQ(fallback.send_to_fallback().reason(), "max_wait");

  const acd::v1::CallInfo ended = center.GetCall("ended");
  EXPECT_EQ(ended.state(), acd::v1::CALL_STATE_ENDED);
  EXPECT_EQ(ended.agent_id(), "alice");
  EXPECT_EQ(TimeOf(ended.arrived()), kStart + absl::Seconds(3));
  const acd::v1::CallInfo abandoned = center.GetCall("abandoned");
  EXPECT_EQ(abandoned.state(), acd::v1::CALL_STATE_ABANDONED);
  EXPECT_EQ(abandoned.agent_id(), "");
  EXPECT_EQ(TimeOf(abandoned.arrived()), kStart + absl::Seconds(3));
  const acd::v1::CallInfo sent = center.GetCall("fallback");
  EXPECT_EQ(sent.state(), acd::v1::CALL_STATE_FALLBACK);
  EXPECT_EQ(sent.queue(), "billing");

  acd::v1::ListCallsRequest list;
  list.set_switch_id("sw1");
  acd::v1::ListCallsResponse live;
  ASSERT_TRUE(center.core().ListCalls(list, &live, center.now()).ok());
  EXPECT_THAT(live.calls(), IsEmpty()) << "finished calls are not live calls";
}

TEST(CoreFinishedCalls, AFinishedCallShowsTheQueueItLeftFromNotTheOneItEntered) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("seller", "sales").ok());
  ASSERT_TRUE(center.Login("biller", "billing").ok());
  center.Connect("c1", "sales", "seller");
  ASSERT_TRUE(center.Event("c1", "seller", TransferTo("billing", false)).ok());
  ASSERT_TRUE(center.Event("c1", "biller", Accept).ok());
  EXPECT_EQ(center.GetCall("c1").queue(), "billing");
  ASSERT_TRUE(center.Event("c1", "biller", End).ok());
  const acd::v1::CallInfo done = center.GetCall("c1");
  EXPECT_EQ(done.state(), acd::v1::CALL_STATE_ENDED);
  EXPECT_EQ(done.agent_id(), "biller");
  EXPECT_EQ(done.queue(), "billing") << "as it was a moment before it ended";
  EXPECT_EQ(done.context().transfers(), 1u);
}

TEST(CoreFinishedCalls, ACallerWhoHangsUpAfterAnOfferWasRejectedNamesTheAgentItLastRang) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Enqueue("c1", "sales");
  ASSERT_EQ(center.TakeOffer().offer_call().agent_id(), "alice");
  ASSERT_TRUE(center.Event("c1", "alice", Reject).ok());
  ASSERT_TRUE(center.Event("c1", "", Abandon).ok());
  const acd::v1::CallInfo done = center.GetCall("c1");
  EXPECT_EQ(done.state(), acd::v1::CALL_STATE_ABANDONED);
  EXPECT_EQ(done.agent_id(), "alice") << "the agent it last rang, though nobody was on the line";
}

TEST(CoreFinishedCalls, ABlindTransferOverTheLimitEndsWithNobodyNamed) {
  SimulatedCenter center(CoreOptions{}, nullptr, R"(
skills: [{name: sales}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 1}]
    fallback: "voicemail:sales"
    transfers: {max_per_call: 1}
)");
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  ASSERT_TRUE(center.Login("bob", "sales").ok());
  center.Connect("c1", "sales", "alice");
  ASSERT_TRUE(center.Event("c1", "alice", TransferTo("sales", false)).ok());
  ASSERT_TRUE(center.Event("c1", "bob", Accept).ok());
  ASSERT_TRUE(center.Event("c1", "bob", TransferTo("sales", false)).ok());
  const acd::v1::CallInfo done = center.GetCall("c1");
  EXPECT_EQ(done.state(), acd::v1::CALL_STATE_FALLBACK);
  EXPECT_EQ(done.agent_id(), "") << "the agent let go of it when it was sent on";
}

TEST(CoreFinishedCalls, AFinishedCallIsForgottenOnceItsRetentionHasPassed) {
  SimulatedCenter center(CoreOptions{.call_retention = absl::Minutes(10)});
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  const uint64_t offer = center.Connect("c1", "sales", "alice");
  ASSERT_TRUE(center.Event("c1", "alice", End).ok());
  ASSERT_TRUE(center.Login("bob", "support").ok());
  center.Connect("live", "support", "bob");  // a live call is never forgotten

  center.Wait(absl::Minutes(10) - absl::Seconds(1));
  EXPECT_EQ(center.GetCall("c1").state(), acd::v1::CALL_STATE_ENDED);
  acd::v1::CallState state;
  ASSERT_TRUE(center.Event("c1", "alice", Accept, &state, offer).ok()) << "a late retry";
  EXPECT_EQ(state, acd::v1::CALL_STATE_CONNECTED);

  center.Wait(absl::Seconds(1));
  absl::Status gone;
  center.GetCall("c1", &gone);
  EXPECT_EQ(gone.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(gone.message(), HasSubstr("10m"));
  EXPECT_EQ(center.Event("c1", "alice", Accept, nullptr, offer).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(center.GetCall("live").state(), acd::v1::CALL_STATE_CONNECTED);
}

TEST(CoreFinishedCalls, AtMostMaxFinishedCallsAreKeptTheOldestGoingFirst) {
  SimulatedCenter center(CoreOptions{.max_finished_calls = 2});
  for (const char* id : {"f1", "f2", "f3"}) {
    center.Enqueue(id, "sales");
    center.Pass(absl::Seconds(1));
    ASSERT_TRUE(center.Event(id, "", Abandon).ok());
  }
  absl::Status forgotten;
  center.GetCall("f1", &forgotten);
  EXPECT_EQ(forgotten.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(center.GetCall("f2").state(), acd::v1::CALL_STATE_ABANDONED);
  EXPECT_EQ(center.GetCall("f3").state(), acd::v1::CALL_STATE_ABANDONED);
}

// ---------------------------------------------------------------------------------------------
// Figures.

struct MeteredCenter {
  MeteredCenter() : observer(&metrics), center(CoreOptions{}, &observer) {}
  const metrics::QueueSeries& Series(const std::string& queue) {
    return *metrics.queue(*center.core().router().policy().FindQueue(queue));
  }
  uint64_t Calls(const std::string& queue, metrics::Outcome outcome) {
    return Series(queue).calls[static_cast<int>(outcome)].Get();
  }

  metrics::AcdMetrics metrics;
  metrics::CallObserver observer;
  SimulatedCenter center;
};

TEST(CoreFigures, AnAnsweredAndAnAbandonedCallMoveTheirQueuesCallCounters) {
  MeteredCenter metered;
  SimulatedCenter& center = metered.center;
  center.Enqueue("answered", "sales");
  center.Enqueue("abandoned", "sales");
  center.Pass(absl::Seconds(12));
  EXPECT_EQ(metered.Calls("sales", metrics::Outcome::kAnswered), 0u);
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  ASSERT_TRUE(center.Event("answered", "alice", Accept).ok());
  ASSERT_TRUE(center.Event("abandoned", "", Abandon).ok());

  EXPECT_EQ(metered.Calls("sales", metrics::Outcome::kAnswered), 1u);
  EXPECT_EQ(metered.Calls("sales", metrics::Outcome::kAbandoned), 1u);
  EXPECT_EQ(metered.Calls("sales", metrics::Outcome::kFallback), 0u);
  EXPECT_EQ(metered.Calls("support", metrics::Outcome::kAnswered), 0u);
  const prometheus::ClientMetric::Histogram waits = metered.Series("sales").answered_wait.Read();
  EXPECT_EQ(waits.sample_count, 1u);
  EXPECT_EQ(waits.sample_sum, 12) << "answered after 12 simulated seconds";
}

TEST(CoreFigures, AHoldsEndMovesTheHoldHistogramByItsLength) {
  MeteredCenter metered;
  SimulatedCenter& center = metered.center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Connect("c1", "sales", "alice");
  ASSERT_TRUE(center.Event("c1", "alice", Hold(0)).ok());
  center.Wait(absl::Seconds(25));
  EXPECT_EQ(metered.Series("sales").hold.Read().sample_count, 0u) << "the hold goes on";
  ASSERT_TRUE(center.Event("c1", "alice", Unhold()).ok());
  const prometheus::ClientMetric::Histogram holds = metered.Series("sales").hold.Read();
  EXPECT_EQ(holds.sample_count, 1u);
  EXPECT_EQ(holds.sample_sum, 25);
}

TEST(CoreFigures, AHoldReminderIsAPromptNotAnOverrun) {
  MeteredCenter metered;
  SimulatedCenter& center = metered.center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Connect("c1", "sales", "alice");
  ASSERT_TRUE(center.Event("c1", "alice", Hold(0)).ok());
  center.Wait(absl::Seconds(40));  // sales reminds every 40 s; nothing was promised, max is 200 s
  ASSERT_EQ(center.TakeCommandsOnly().size(), 2u) << "the reminder to the caller and the agent";
  const metrics::QueueSeries& sales = metered.Series("sales");
  EXPECT_EQ(sales.hold_overruns[0].Get() + sales.hold_overruns[1].Get(), 0u);
  EXPECT_EQ(sales.prompts[static_cast<int>(routing::PromptKind::kHoldReminder)].Get(), 1u);
  EXPECT_THAT(Story(center.GetCall("c1")), ::testing::Not(::testing::Contains("hold_overrun")));
}

TEST(CoreFigures, AHoldDuringAConsultCountsForTheQueueOfTheAgentHoldingTheCaller) {
  MeteredCenter metered;
  SimulatedCenter& center = metered.center;
  ASSERT_TRUE(center.Login("seller", "sales").ok());
  center.Connect("c1", "sales", "seller");
  ASSERT_TRUE(center.Event("c1", "seller", TransferTo("support", true)).ok());
  ASSERT_TRUE(center.Event("c1", "seller", Hold(0)).ok());
  center.Wait(absl::Seconds(15));
  ASSERT_TRUE(center.Event("c1", "seller", Unhold()).ok());
  const prometheus::ClientMetric::Histogram sales = metered.Series("sales").hold.Read();
  EXPECT_EQ(sales.sample_count, 1u);
  EXPECT_EQ(sales.sample_sum, 15);
  EXPECT_EQ(metered.Series("support").hold.Read().sample_count, 0u)
      << "the caller waits for support but is held by sales' agent";
}

}  // namespace
}  // namespace acd::daemon::testing
