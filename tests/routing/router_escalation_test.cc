// Router: a call's stint in a queue — escalation steps at exactly their time, overflow, max
// wait and the fallback, and the window in which a call waits for its preferred agent.
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
using ::acd::routing::testing::kEscalation;
using ::testing::ElementsAre;

TEST(Router, RelaxesTheSkillFloorAtExactlyTheStepTime) {
  Router router(PolicyFromYaml(kEscalation), T(0));
  ASSERT_TRUE(router.Login(Agent("junior", {{"sales", 2}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(100)).ok());
  EXPECT_EQ(router.NextWakeup(), T(130));
  router.AdvanceTo(T(130) - absl::Microseconds(1));
  EXPECT_TRUE(Routing(router).empty());
  router.AdvanceTo(T(130));
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 junior"));
}

TEST(Router, AddsAlternativeSkillsAtTheirStep) {
  Router router(PolicyFromYaml(kEscalation), T(0));
  ASSERT_TRUE(router.Login(Agent("spanish", {{"spanish_desk", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  router.AdvanceTo(T(59.999));
  EXPECT_TRUE(Routing(router).empty());
  router.AdvanceTo(T(60));
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 spanish"));
}

TEST(Router, RaisedPriorityPutsACallAheadOfOthers) {
  Router router(PolicyFromYaml(kEscalation), T(0));
  ASSERT_TRUE(router.Enqueue(Call("old", "sales"), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("vip", "other", 200), T(10)).ok());
  router.AdvanceTo(T(89));
  EXPECT_EQ(router.FindCall("old")->priority, 0);
  router.AdvanceTo(T(90));
  EXPECT_EQ(router.FindCall("old")->priority, 500);
  ASSERT_TRUE(router.Login(Agent("a", {{"sales", 5}}), T(91)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer old a"));
}

TEST(Router, OverflowMovesTheCallAndKeepsItsOriginalArrival) {
  Router router(PolicyFromYaml(kEscalation), T(0));
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c2", "overflow"), T(100)).ok());
  router.AdvanceTo(T(120));
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("overflow c1 sales->overflow"));
  std::optional<CallView> view = router.FindCall("c1");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->queue, "overflow");
  EXPECT_EQ(view->arrived, T(0));
  EXPECT_EQ(view->entered_queue, T(120));
  EXPECT_EQ(view->position, 1);  // ahead of c2, who arrived later
  EXPECT_EQ(router.FindCall("c2")->position, 2);
}

TEST(Router, FallbackStepAndMaxWaitSendTheCallAway) {
  Router router(PolicyFromYaml(kEscalation), T(0));
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  router.AdvanceTo(T(180));  // overflow at 120, its fallback step at 120 + 60
  EXPECT_THAT(Lines(Routing(router)),
              ElementsAre("overflow c1 sales->overflow", "fallback c1 voicemail:overflow escalation"));
  EXPECT_FALSE(router.FindCall("c1"));

  std::string yaml = kEscalation;
  Router short_wait(PolicyFromYaml(R"(
skills: [{name: s}]
queues:
  - {name: q, skills: [{skill: s, min_proficiency: 1}], max_wait_seconds: 45, fallback: "voicemail:q"}
)"), T(0));
  ASSERT_TRUE(short_wait.Enqueue(Call("c9", "q"), T(0)).ok());
  short_wait.AdvanceTo(T(44.9));
  EXPECT_TRUE(Routing(short_wait).empty());
  short_wait.AdvanceTo(T(45));
  EXPECT_THAT(Lines(Routing(short_wait)), ElementsAre("fallback c9 voicemail:q max_wait"));
  EXPECT_EQ(short_wait.calls_waiting(), 0u);
}

TEST(Router, ARingingCallCatchesUpOnItsOverflowBeforeItsMaxWait) {
  Router router(PolicyFromYaml(R"(
skills: [{name: s}, {name: t}]
agent_rules: {reject_delay_seconds: 0, no_answer_delay_seconds: 600}
queues:
  - name: a
    skills: [{skill: s, min_proficiency: 1}]
    max_wait_seconds: 110
    fallback: "vm:a"
    escalation: [{after_seconds: 100, overflow: {queue: b}}]
  - {name: b, skills: [{skill: t, min_proficiency: 1}]}
)"), T(0));
  ASSERT_TRUE(router.Enqueue(Call("c1", "a"), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("x", {{"s", 1}}), T(95)).ok());
  router.AdvanceTo(T(115));  // the 20 s offer times out after both deadlines have passed
  EXPECT_THAT(Lines(Routing(router)),
              ElementsAre("offer c1 x", "cancel c1 x no_answer", "overflow c1 a->b"));
  std::optional<CallView> call = router.FindCall("c1");
  ASSERT_TRUE(call);
  EXPECT_EQ(call->queue, "b");
  EXPECT_EQ(call->entered_queue, T(100));
}

TEST(Router, TellsTheCallerWhenItNextNeedsWaking) {
  Router router(PolicyFromYaml(kEscalation), T(0));
  EXPECT_EQ(router.NextWakeup(), std::nullopt);
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(10)).ok());
  EXPECT_EQ(router.NextWakeup(), T(40));  // first step at 30 s
  ASSERT_TRUE(router.Abandon("c1", T(11)).ok());
  EXPECT_EQ(router.NextWakeup(), std::nullopt) << "cancelled timers do not wake anyone";
}

// ---------------------------------------------------------------------------------------------
// The preferred agent.

constexpr char kPreferred[] = R"(
skills: [{name: key_accounts}]
queues:
  - {name: vip, skills: [{skill: key_accounts, min_proficiency: 1}], preferred_agent: {timeout_seconds: 30}}
)";

TEST(Router, AKeyAccountWaitsForItsAccountManagerUntilTheTimeout) {
  Router router(PolicyFromYaml(kPreferred), T(0));
  ASSERT_TRUE(router.Login(Agent("manager", {{"key_accounts", 5}}, /*ready=*/false), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("other", {{"key_accounts", 5}}), T(0)).ok());
  CallSpec call = Call("c1", "vip");
  call.preferred_agent = "manager";
  ASSERT_TRUE(router.Enqueue(call, T(10)).ok());
  EXPECT_TRUE(Routing(router).empty()) << "'other' is free but the call waits for 'manager'";
  router.AdvanceTo(T(39.9));
  EXPECT_TRUE(Routing(router).empty());
  router.AdvanceTo(T(40));
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 other"));
}

TEST(Router, AKeyAccountGoesToItsAccountManagerWhenTheyFreeUpInTime) {
  Router router(PolicyFromYaml(kPreferred), T(0));
  ASSERT_TRUE(router.Login(Agent("manager", {{"key_accounts", 5}}, false), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("other", {{"key_accounts", 5}}), T(0)).ok());
  CallSpec call = Call("c1", "vip");
  call.preferred_agent = "manager";
  ASSERT_TRUE(router.Enqueue(call, T(10)).ok());
  ASSERT_TRUE(router.SetReady("manager", T(20)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 manager"));
}

TEST(Router, APreferredAgentWhoIsNotLoggedInHoldsNoCallBack) {
  Router router(PolicyFromYaml(kPreferred), T(0));
  ASSERT_TRUE(router.Login(Agent("other", {{"key_accounts", 5}}), T(0)).ok());
  CallSpec call = Call("c1", "vip");
  call.preferred_agent = "on_holiday";
  ASSERT_TRUE(router.Enqueue(call, T(10)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 other"));
}

TEST(Router, APreferredAgentWhoLogsOutWhileRingingHoldsTheCallNoLonger) {
  Router router(PolicyFromYaml(R"(
skills: [{name: k}]
queues: [{name: vip, skills: [{skill: k, min_proficiency: 1}], preferred_agent: {timeout_seconds: 120}}]
)"), T(0));
  ASSERT_TRUE(router.Login(Agent("manager", {{"k", 5}}), T(0)).ok());
  CallSpec call = Call("c1", "vip");
  call.preferred_agent = "manager";
  ASSERT_TRUE(router.Enqueue(call, T(1)).ok());
  ASSERT_TRUE(router.Login(Agent("backup", {{"k", 5}}), T(2)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 manager"));
  ASSERT_TRUE(router.Logout("manager", T(5)).ok());
  EXPECT_THAT(Lines(Routing(router)),
              ElementsAre("cancel c1 manager agent_logged_out", "offer c1 backup"));
}

}  // namespace
}  // namespace acd::routing
