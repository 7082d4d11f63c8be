// Router: blind transfers — the call keeps its arrival and gains the queue's boost, the agent
// who sent it is kept off it a while, a transfer to an agent waits for them, and the limits.
// Warm (consult) transfers are in router_consults_test.cc.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/router.h"
#include "tests/routing/decision_lines.h"
#include "tests/routing/router_helpers.h"
#include "tests/routing/router_policies.h"
#include "tests/routing/test_policy.h"

namespace acd::routing {
namespace {

using ::acd::routing::testing::Agent;
using ::acd::routing::testing::Call;
using ::acd::routing::testing::Lines;
using ::acd::routing::testing::PolicyFromYaml;
using ::acd::routing::testing::Routing;
using ::acd::routing::testing::T;
using ::acd::routing::testing::kNoWrapUp;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kTransfers[] = R"(
skills: [{name: sales}, {name: billing}]
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 1}]
    wrap_up_seconds: 10
    fallback: "voicemail:sales"
    transfers: {max_per_call: 2}
  - name: billing
    skills: [{skill: billing, min_proficiency: 1}]
    fallback: "voicemail:billing"
    transfers: {priority_boost: 50, agent_wait_seconds: 20}
  - {name: chat, channel: chat, skills: [{skill: sales, min_proficiency: 1}]}
)";

// Connects `call` (already enqueued) with `agent` and clears the decisions.
void Connect(Router& router, const std::string& call, const std::string& agent, double t) {
  std::vector<Decision> d = Routing(router);
  ASSERT_FALSE(d.empty());
  ASSERT_EQ(d.back().call_id, call);
  ASSERT_EQ(d.back().agent_id, agent);
  ASSERT_TRUE(router.OfferAccepted(call, agent, T(t)).ok());
}

TEST(RouterTransfer, ABlindTransferKeepsTheArrivalAddsTheBoostAndFreesTheAgentIntoWrapUp) {
  Router router(PolicyFromYaml(kTransfers), T(0));
  ASSERT_TRUE(router.Login(Agent("seller", {{"sales", 3}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(5)).ok());
  Connect(router, "c1", "seller", 6);
  ASSERT_TRUE(router.Enqueue(Call("b0", "billing"), T(7)).ok());  // waiting since before
  absl::StatusOr<EnqueueResult> moved =
      router.Transfer("c1", "seller", TransferTarget{.queue = "billing"}, T(30));
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->disposition, EnqueueResult::Disposition::kQueued);
  EXPECT_EQ(moved->position, 1) << "the boost of 50 puts it ahead of b0";
  std::optional<CallView> call = router.FindCall("c1");
  EXPECT_EQ(call->queue, "billing");
  EXPECT_EQ(call->arrived, T(5));
  EXPECT_EQ(call->priority, 50);
  EXPECT_EQ(call->transfers, 1u);
  EXPECT_EQ(router.FindAgent("seller")->state, AgentState::kWrapUp);
  ASSERT_TRUE(router.Login(Agent("biller", {{"billing", 3}}), T(31)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 biller"));
}

TEST(RouterTransfer, ATransferToABusyAgentWaitsForThemThenAnyAgentMayTakeIt) {
  Router router(PolicyFromYaml(kTransfers), T(0));
  ASSERT_TRUE(router.Login(Agent("first", {{"billing", 3}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "billing"), T(1)).ok());
  Connect(router, "c1", "first", 1);
  ASSERT_TRUE(router.Login(Agent("expert", {{"billing", 5}}, /*ready=*/false), T(2)).ok());
  ASSERT_TRUE(router.Login(Agent("other", {{"billing", 1}}, /*ready=*/false), T(2)).ok());
  absl::StatusOr<EnqueueResult> moved =
      router.Transfer("c1", "first", TransferTarget{.agent_id = "expert"}, T(10));
  ASSERT_TRUE(moved.ok()) << moved.status();
  ASSERT_TRUE(router.SetNotReady("first", "break", T(10)).ok());
  ASSERT_TRUE(router.SetReady("other", T(11)).ok());
  EXPECT_TRUE(Routing(router).empty()) << "held for 'expert'";
  router.AdvanceTo(T(29.9));
  EXPECT_TRUE(Routing(router).empty());
  router.AdvanceTo(T(30));  // agent_wait_seconds: 20
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 other"));
}

TEST(RouterTransfer, TooManyTransfersSendTheCallToTheFallback) {
  Router router(PolicyFromYaml(kTransfers), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"sales", 3}}), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("b", {{"sales", 3}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(1)).ok());
  std::string holder = Routing(router).back().agent_id;
  ASSERT_TRUE(router.OfferAccepted("c1", holder, T(1)).ok());
  for (int i = 1; i <= 2; ++i) {  // max_per_call: 2
    absl::StatusOr<EnqueueResult> moved =
        router.Transfer("c1", holder, TransferTarget{.queue = "sales"}, T(100 * i));
    ASSERT_TRUE(moved.ok()) << moved.status();
    holder = Routing(router).back().agent_id;
    ASSERT_TRUE(router.OfferAccepted("c1", holder, T(100 * i)).ok());
  }
  absl::StatusOr<EnqueueResult> third =
      router.Transfer("c1", holder, TransferTarget{.queue = "sales"}, T(400));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->disposition, EnqueueResult::Disposition::kSentToFallback);
  EXPECT_THAT(Lines(Routing(router)),
              ElementsAre("fallback c1 voicemail:sales too_many_transfers"));
  EXPECT_FALSE(router.FindCall("c1"));
  EXPECT_EQ(router.FindAgent(holder)->state, AgentState::kWrapUp);
}

TEST(RouterTransfer, RefusesTransfersThatCannotWork) {
  Router router(PolicyFromYaml(kTransfers), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"sales", 3}}), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("biller", {{"billing", 3}}, false), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(1)).ok());
  ASSERT_TRUE(router.Enqueue(Call("w1", "sales"), T(1)).ok());
  EXPECT_EQ(router.Transfer("w1", "a", {.queue = "billing"}, T(2)).status().code(),
            absl::StatusCode::kFailedPrecondition) << "not connected";
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(2)).ok());
  EXPECT_EQ(router.Transfer("c1", "b", {.queue = "billing"}, T(3)).status().code(),
            absl::StatusCode::kFailedPrecondition) << "not that agent's call";
  EXPECT_EQ(router.Transfer("c1", "a", {.queue = "nope"}, T(3)).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(router.Transfer("c1", "a", {.queue = "chat"}, T(3)).status().code(),
            absl::StatusCode::kInvalidArgument) << "another channel";
  EXPECT_EQ(router.Transfer("c1", "a", {}, T(3)).status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status not_serving = router.Transfer("c1", "a", {.agent_id = "biller"}, T(3)).status();
  EXPECT_EQ(not_serving.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(not_serving.message(), HasSubstr("does not serve queue 'sales'"));
  EXPECT_EQ(router.FindCall("c1")->state, CallState::kConnected) << "a refused transfer changes nothing";
}

// ---------------------------------------------------------------------------------------------
// Regressions from the review of transfers.

TEST(RouterTransfer, TheAgentWhoSentACallOnIsNotOfferedItBack) {
  Router router(PolicyFromYaml(kNoWrapUp), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"sales", 5}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(1)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(1)).ok());
  ASSERT_TRUE(router.Login(Agent("b", {{"sales", 5}}, /*ready=*/false), T(2)).ok());
  absl::StatusOr<EnqueueResult> moved = router.Transfer("c1", "a", {.queue = "sales"}, T(10));
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->disposition, EnqueueResult::Disposition::kQueued) << "'a' is free but let go of it";
  Routing(router);
  ASSERT_TRUE(router.SetReady("b", T(11)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 b"));
}

TEST(RouterTransfer, WhenTheAvoidanceEndsTheCallGoesToTheOnlyAgentThereIs) {
  Router router(PolicyFromYaml(kNoWrapUp), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"sales", 5}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(1)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(1)).ok());
  Routing(router);
  ASSERT_TRUE(router.Transfer("c1", "a", {.queue = "sales"}, T(10)).ok());
  router.AdvanceTo(T(69.9));  // transfers.agent_wait_seconds defaults to 60
  EXPECT_TRUE(Routing(router).empty());
  router.AdvanceTo(T(70));
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 a")) << "no call left idle";
}

TEST(RouterTransfer, ATransferAwayIsNotHeldForTheCallersPreferredAgentWhoSentIt) {
  Router router(PolicyFromYaml(kNoWrapUp), T(0));
  ASSERT_TRUE(router.Login(Agent("am", {{"sales", 5}, {"billing", 5}}), T(0)).ok());
  CallSpec call = Call("c1", "sales");
  call.preferred_agent = "am";
  ASSERT_TRUE(router.Enqueue(call, T(1)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "am", T(1)).ok());
  ASSERT_TRUE(router.Login(Agent("biller", {{"billing", 3}}), T(2)).ok());
  Routing(router);
  ASSERT_TRUE(router.Transfer("c1", "am", {.queue = "billing"}, T(200)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 biller"));
}

TEST(RouterTransfer, ATargetAgentMustMeetTheQueuesOwnSkillsNotARelaxedFloor) {
  Router router(PolicyFromYaml(kNoWrapUp), T(0));
  ASSERT_TRUE(router.Login(Agent("junior", {{"sales", 1}}, /*ready=*/false), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("junior2", {{"sales", 1}}, /*ready=*/false), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  ASSERT_TRUE(router.SetReady("junior", T(30)).ok());  // the floor was relaxed at 30 s
  ASSERT_TRUE(router.OfferAccepted("c1", "junior", T(30)).ok());
  absl::Status refused = router.Transfer("c1", "junior", {.agent_id = "junior2"}, T(40)).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << "a new stint needs sales>=4";
  EXPECT_EQ(router.FindCall("c1")->state, CallState::kConnected);
}

TEST(RouterTransfer, ATransferIntoAFullQueueGoesToItsFallback) {
  Router router(PolicyFromYaml(kNoWrapUp), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"sales", 5}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("b1", "billing"), T(1)).ok());  // billing holds 1: full
  Routing(router);
  absl::StatusOr<EnqueueResult> moved = router.Transfer("c1", "a", {.queue = "billing"}, T(2));
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->disposition, EnqueueResult::Disposition::kSentToFallback);
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("fallback c1 voicemail:billing queue_full"));
}

TEST(RouterTransfer, AReloadKeepsACallHeldForItsTransferTarget) {
  Router router(PolicyFromYaml(kNoWrapUp), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"billing", 3}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "billing"), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("expert", {{"billing", 5}}, /*ready=*/false), T(1)).ok());
  ASSERT_TRUE(router.Login(Agent("other", {{"billing", 1}}, /*ready=*/false), T(1)).ok());
  ASSERT_TRUE(router.Transfer("c1", "a", {.agent_id = "expert"}, T(10)).ok());
  ASSERT_TRUE(router.SetNotReady("a", "break", T(10)).ok());
  ASSERT_TRUE(router.ReplacePolicy(PolicyFromYaml(kNoWrapUp), T(12)).ok());
  ASSERT_TRUE(router.SetReady("other", T(13)).ok());
  Routing(router);
  EXPECT_TRUE(Routing(router).empty());
  ASSERT_TRUE(router.SetReady("expert", T(14)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 expert"));
}

}  // namespace
}  // namespace acd::routing
