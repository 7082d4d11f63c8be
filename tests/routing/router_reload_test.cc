// Router: replacing the policy under live calls — waiting and ringing calls follow the new steps
// and limits, and a policy that drops a queue in use is refused.
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
using ::testing::HasSubstr;

TEST(Router, AReloadKeepsEveryWaitingCallAndAppliesTheNewSteps) {
  Router router(PolicyFromYaml(kEscalation), T(0));
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c2", "other"), T(5)).ok());
  router.AdvanceTo(T(40));
  std::string relaxed = kEscalation;
  relaxed.replace(relaxed.find("{after_seconds: 30, relax_skill_floor: {to: 2}}"),
                  std::string("{after_seconds: 30, relax_skill_floor: {to: 2}}").size(),
                  "{after_seconds: 30, relax_skill_floor: {to: 1}}");
  ASSERT_TRUE(router.ReplacePolicy(PolicyFromYaml(relaxed), T(50)).ok());
  EXPECT_EQ(router.calls_waiting(), 2u);
  EXPECT_EQ(router.FindCall("c1")->arrived, T(0));
  ASSERT_TRUE(router.Login(Agent("novice", {{"sales", 1}}), T(51)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 novice"));
}

TEST(Router, AReloadThatDropsAQueueInUseIsRefusedAndChangesNothing) {
  Router router(PolicyFromYaml(kEscalation), T(0));
  ASSERT_TRUE(router.Enqueue(Call("c1", "other"), T(0)).ok());
  absl::Status s = router.ReplacePolicy(PolicyFromYaml(R"(
skills: [{name: sales}]
queues: [{name: sales, skills: [{skill: sales, min_proficiency: 1}]}]
)"), T(1));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("queue 'other'"));
  EXPECT_EQ(router.FindCall("c1")->queue, "other");
  EXPECT_EQ(router.policy().queues.size(), 3u);
}

constexpr char kThreeSteps[] = R"(
skills: [{name: s}]
agent_rules: {reject_delay_seconds: 5}
queues:
  - name: q
    skills: [{skill: s, min_proficiency: 3}]
    max_wait_seconds: 300
    fallback: "vm"
    escalation:
      - {after_seconds: 10, relax_skill_floor: {to: 1}}
      - {after_seconds: 20, raise_priority: {by: 5}}
      - {after_seconds: 30, raise_priority: {by: 5}}
)";

TEST(RouterReload, ARingingCallThatComesBackFollowsTheNewStepsOnly) {
  Router router(PolicyFromYaml(kThreeSteps), T(0));
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("junior", {{"s", 1}}), T(35)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 junior"));
  ASSERT_TRUE(router.ReplacePolicy(PolicyFromYaml(R"(
skills: [{name: s}]
agent_rules: {reject_delay_seconds: 5}
queues:
  - name: q
    skills: [{skill: s, min_proficiency: 3}]
    escalation: [{after_seconds: 20, raise_priority: {by: 7}}]
)"), T(36)).ok());
  ASSERT_TRUE(router.OfferRejected("c1", "junior", T(37)).ok());
  std::optional<CallView> call = router.FindCall("c1");
  ASSERT_TRUE(call);
  EXPECT_EQ(call->state, CallState::kWaiting);
  EXPECT_EQ(call->escalation_steps_fired, 1);
  EXPECT_EQ(call->priority, 7);
  router.AdvanceTo(T(400));  // the new policy has no relaxed floor and no max wait
  EXPECT_TRUE(Routing(router).empty());
  EXPECT_TRUE(router.FindCall("c1"));
}

TEST(RouterReload, AMaxWaitAddedWhileACallRingsAppliesWhenTheOfferFails) {
  Router router(PolicyFromYaml(R"(
skills: [{name: s}]
queues: [{name: q, skills: [{skill: s, min_proficiency: 1}]}]
)"), T(0));
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(35)).ok());
  ASSERT_TRUE(router.ReplacePolicy(PolicyFromYaml(R"(
skills: [{name: s}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 600}
queues: [{name: q, skills: [{skill: s, min_proficiency: 1}], max_wait_seconds: 60, fallback: "vm:q"}]
)"), T(36)).ok());
  ASSERT_TRUE(router.OfferRejected("c1", "a", T(37)).ok());
  Routing(router);
  router.AdvanceTo(T(59.9));
  EXPECT_TRUE(Routing(router).empty());
  router.AdvanceTo(T(60));
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("fallback c1 vm:q max_wait"));
}

TEST(RouterReload, CallsPastTheNewMaxWaitLeaveDuringTheReload) {
  Router router(PolicyFromYaml(R"(
skills: [{name: s}]
queues: [{name: q, skills: [{skill: s, min_proficiency: 1}]}]
)"), T(0));
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  ASSERT_TRUE(router.ReplacePolicy(PolicyFromYaml(R"(
skills: [{name: s}]
queues: [{name: q, skills: [{skill: s, min_proficiency: 1}], max_wait_seconds: 60, fallback: "vm:q"}]
)"), T(100)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("fallback c1 vm:q max_wait"));
  EXPECT_EQ(router.calls_waiting(), 0u);
}

TEST(RouterReload, AnAgentLoggedInForQueuesThatAllDisappearServesNoQueue) {
  constexpr char kBefore[] = R"(
skills: [{name: k}, {name: g}]
queues: [{name: vip, skills: [{skill: k, min_proficiency: 1}]},
         {name: general, skills: [{skill: g, min_proficiency: 1}]}]
)";
  Router router(PolicyFromYaml(kBefore), T(0));
  AgentSpec manager = Agent("manager", {{"k", 5}, {"g", 5}});
  manager.queues = {"vip"};
  ASSERT_TRUE(router.Login(manager, T(0)).ok());
  std::string renamed = kBefore;
  renamed.replace(renamed.find("name: vip"), 9, "name: key_accounts");
  ASSERT_TRUE(router.ReplacePolicy(PolicyFromYaml(renamed), T(1)).ok());
  EXPECT_TRUE(router.FindAgent("manager")->queues.empty());
  ASSERT_TRUE(router.Enqueue(Call("c1", "general"), T(2)).ok());
  EXPECT_TRUE(Routing(router).empty());
}

}  // namespace
}  // namespace acd::routing
