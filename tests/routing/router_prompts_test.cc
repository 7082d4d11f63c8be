// Router: what a caller in line hears — the entry greeting, updates at the queue's cadence, the
// position and the rounded expected wait — and how callers who give up shorten that wait.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/router.h"
#include "routing/wait_estimator.h"
#include "tests/routing/router_helpers.h"
#include "tests/routing/test_policy.h"

namespace acd::routing {
namespace {

using ::acd::routing::testing::Agent;
using ::acd::routing::testing::Call;
using ::acd::routing::testing::Occupy;
using ::acd::routing::testing::PolicyFromYaml;
using ::acd::routing::testing::T;
using ::acd::routing::testing::Take;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using PromptKind = Decision::PromptKind;

constexpr char kPrompts[] = R"(
skills: [{name: s}, {name: t}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: q
    skills: [{skill: s, min_proficiency: 1}]
    offer_timeout_seconds: 60
    max_queue_length: 3
    fallback: "vm:q"
    prompts: {update_interval_seconds: 30, min_spacing_seconds: 20, ewt_rounding_seconds: 60,
              ewt_cap_seconds: 300}
  - name: other
    skills: [{skill: t, min_proficiency: 1}]
    prompts: {update_interval_seconds: 60}
  - name: quiet
    skills: [{skill: s, min_proficiency: 1}]
    prompts: {update_interval_seconds: 30, announce_position: false, announce_ewt: false}
  - name: spill
    skills: [{skill: t, min_proficiency: 1}]
    prompts: {update_interval_seconds: 30}
    escalation: [{after_seconds: 45, overflow: {queue: other}}]
)";

TEST(RouterPrompts, ACallerWhoMustWaitHearsPositionAndExpectedWaitAtOnce) {
  Router router(PolicyFromYaml(kPrompts), T(0));
  Occupy(router, "q", 100);
  absl::StatusOr<EnqueueResult> first = router.Enqueue(Call("c1", "q"), T(100));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->position, 1);
  EXPECT_EQ(first->expected_wait, absl::Seconds(100)) << "the reply carries the unrounded estimate";
  EXPECT_THAT(Take(router), ElementsAre("entry c1 #1 120s"));
  ASSERT_TRUE(router.Enqueue(Call("c2", "q"), T(101)).ok());
  EXPECT_THAT(Take(router), ElementsAre("entry c2 #2 240s"));
}

TEST(RouterPrompts, ACallerOfferedAtOnceOrTurnedAwayHearsNoPrompt) {
  Router router(PolicyFromYaml(kPrompts), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(1)).ok());
  EXPECT_THAT(Take(router), ElementsAre("offer c1 a"));
  for (const char* id : {"w1", "w2", "w3"}) ASSERT_TRUE(router.Enqueue(Call(id, "q"), T(2)).ok());
  router.TakeDecisions();
  absl::StatusOr<EnqueueResult> full = router.Enqueue(Call("w4", "q"), T(3));  // max_queue_length 3
  EXPECT_EQ(full->disposition, EnqueueResult::Disposition::kSentToFallback);
  EXPECT_THAT(Take(router), ElementsAre("fallback w4 vm:q queue_full"));
}

TEST(RouterPrompts, UpdatesComeEveryIntervalAndRepeatNoUnchangedPosition) {
  Router router(PolicyFromYaml(kPrompts), T(0));
  Occupy(router, "q", 100);
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(100)).ok());
  router.TakeDecisions();
  router.AdvanceTo(T(129.9));
  EXPECT_THAT(Take(router), IsEmpty());
  router.AdvanceTo(T(130));
  EXPECT_THAT(Take(router), ElementsAre("update c1 120s")) << "still first: the place is not repeated";
  router.AdvanceTo(T(160));
  EXPECT_THAT(Take(router), ElementsAre("update c1 120s"));
}

TEST(RouterPrompts, APositionIsAnnouncedAgainOnlyWhenItImproved) {
  Router router(PolicyFromYaml(kPrompts), T(0));
  Occupy(router, "q", 100);
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(100)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c2", "q"), T(101)).ok());
  EXPECT_THAT(Take(router), ElementsAre("entry c1 #1 120s", "entry c2 #2 240s"));
  ASSERT_TRUE(router.Enqueue(Call("vip", "q", /*priority=*/500), T(105)).ok());
  EXPECT_THAT(Take(router), ElementsAre("entry vip #1 120s"));
  router.AdvanceTo(T(131));
  EXPECT_THAT(Take(router), ElementsAre("update c1 240s", "update c2 300s"))
      << "pushed back to #2 and #3: places that got worse are not announced";
  ASSERT_TRUE(router.Abandon("vip", T(140)).ok());
  ASSERT_TRUE(router.Abandon("c1", T(141)).ok());
  EXPECT_THAT(Take(router), ElementsAre("update vip 120s"));
  router.AdvanceTo(T(161));
  std::vector<Decision> d = router.TakeDecisions();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].call_id, "c2");
  EXPECT_EQ(d[0].position, 1) << "#1 is better than the #2 c2 heard on entry";
  router.AdvanceTo(T(191));
  d = router.TakeDecisions();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].position, 0);
}

TEST(RouterPrompts, TheCallerAboutToBeServedHearsNoUpdate) {
  Router router(PolicyFromYaml(kPrompts), T(0));
  Occupy(router, "q", 10);  // the head of the line expects 10 s: under min_spacing (20 s)
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(10)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c2", "q"), T(11)).ok());
  EXPECT_THAT(Take(router), ElementsAre("entry c1 #1 60s", "entry c2 #2 60s"))
      << "a wait under one rounding unit is said as one unit";
  router.AdvanceTo(T(41));
  EXPECT_THAT(Take(router), ElementsAre("update c2 60s")) << "c1 is skipped, c2 (20 s) is not";
  router.AdvanceTo(T(70));
  EXPECT_THAT(Take(router), IsEmpty()) << "c1 is skipped again an interval later";
  ASSERT_TRUE(router.Abandon("c1", T(75)).ok());
  EXPECT_THAT(Take(router), ElementsAre("update c2 60s")) << "at 71, still second";
  router.AdvanceTo(T(101));
  EXPECT_THAT(Take(router), IsEmpty()) << "now at the head, c2 is skipped too";
}

TEST(RouterPrompts, NoTwoPromptsReachACallerCloserThanTheMinimumSpacing) {
  Router router(PolicyFromYaml(kPrompts), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}, /*ready=*/false), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("w1", "other", /*priority=*/100), T(1)).ok());
  EXPECT_THAT(Take(router), ElementsAre("entry c1 #1", "entry w1 #1"));
  ASSERT_TRUE(router.SetReady("a", T(5)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(6)).ok());
  ASSERT_TRUE(router.Transfer("c1", "a", {.queue = "other"}, T(10)).ok());
  EXPECT_THAT(Take(router), ElementsAre("offer c1 a")) << "10 s after its greeting c1 hears nothing yet";
  router.AdvanceTo(T(19.9));
  EXPECT_THAT(Take(router), IsEmpty());
  router.AdvanceTo(T(20));
  EXPECT_THAT(Take(router), ElementsAre("update c1 #2 60s")) << "its place in the new queue";
}

TEST(RouterPrompts, TheExpectedWaitIsRoundedUpAndCapped) {
  Router router(PolicyFromYaml(kPrompts), T(0));
  Occupy(router, "q", 61);
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(61)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c2", "q"), T(61)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c3", "q"), T(61)).ok());
  EXPECT_THAT(Take(router), ElementsAre("entry c1 #1 120s", "entry c2 #2 180s", "entry c3 #3 240s"));
  Router capped(PolicyFromYaml(kPrompts), T(0));
  Occupy(capped, "q", 200);
  ASSERT_TRUE(capped.Enqueue(Call("c1", "q"), T(200)).ok());
  ASSERT_TRUE(capped.Enqueue(Call("c2", "q"), T(200)).ok());
  EXPECT_THAT(Take(capped), ElementsAre("entry c1 #1 240s", "entry c2 #2 300s+"))
      << "400 s is over the cap of 300 s: 'more than 5 minutes'";
}

TEST(RouterPrompts, AnUpdateWithNothingToAnnounceStillThanksTheCaller) {
  Router router(PolicyFromYaml(kPrompts), T(0));
  Occupy(router, "quiet", 100);
  ASSERT_TRUE(router.Enqueue(Call("c1", "quiet"), T(100)).ok());
  EXPECT_THAT(Take(router), ElementsAre("entry c1"));
  router.AdvanceTo(T(130));
  EXPECT_THAT(Take(router), ElementsAre("update c1"));
}

TEST(RouterPrompts, PromptsStopWhileTheCallRingsAndResumeWhenItComesBack) {
  Router router(PolicyFromYaml(kPrompts), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}, /*ready=*/false), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  EXPECT_THAT(Take(router), ElementsAre("entry c1 #1"));
  ASSERT_TRUE(router.SetReady("a", T(10)).ok());
  EXPECT_THAT(Take(router), ElementsAre("offer c1 a"));
  router.AdvanceTo(T(39));
  EXPECT_THAT(Take(router), IsEmpty()) << "no update while ringing (it was due at 30)";
  ASSERT_TRUE(router.Logout("a", T(40)).ok());
  EXPECT_THAT(Take(router), ElementsAre("cancel c1 a agent_logged_out", "update c1 60s"))
      << "the update missed while ringing plays as soon as the caller is back";
  router.AdvanceTo(T(69.9));
  EXPECT_THAT(Take(router), IsEmpty());
  router.AdvanceTo(T(70));
  EXPECT_THAT(Take(router), ElementsAre("update c1 120s"));
}

TEST(RouterPrompts, ACallerWhoRangAnAgentFirstIsGreetedWhenTheyComeBack) {
  Router router(PolicyFromYaml(kPrompts), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  ASSERT_TRUE(router.Logout("a", T(5)).ok());
  EXPECT_THAT(Take(router), ElementsAre("offer c1 a", "cancel c1 a agent_logged_out", "entry c1 #1 60s"));
}

TEST(RouterPrompts, AnOverflowKeepsTheCadenceAtTheNewQueuesInterval) {
  Router router(PolicyFromYaml(kPrompts), T(0));
  ASSERT_TRUE(router.Enqueue(Call("c1", "spill"), T(0)).ok());
  EXPECT_THAT(Take(router), ElementsAre("entry c1 #1"));
  router.AdvanceTo(T(30));
  EXPECT_THAT(Take(router), ElementsAre("update c1 60s"));
  router.AdvanceTo(T(45));
  EXPECT_THAT(Take(router), ElementsAre("overflow c1 spill->other")) << "no new greeting";
  router.AdvanceTo(T(89.9));
  EXPECT_THAT(Take(router), IsEmpty()) << "other's interval is 60 s, from the update at 30";
  router.AdvanceTo(T(90));
  EXPECT_THAT(Take(router), ElementsAre("update c1 #1 60s")) << "first place said in the new queue";
}

TEST(RouterPrompts, AReloadAppliesTheNewInterval) {
  Router router(PolicyFromYaml(kPrompts), T(0));
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  router.TakeDecisions();
  std::string slower = kPrompts;
  slower.replace(slower.find("update_interval_seconds: 30"), 27, "update_interval_seconds: 50");
  ASSERT_TRUE(router.ReplacePolicy(PolicyFromYaml(slower), T(10)).ok());
  router.AdvanceTo(T(49.9));
  EXPECT_THAT(Take(router), IsEmpty());
  router.AdvanceTo(T(50));
  EXPECT_THAT(Take(router), ElementsAre("update c1 60s"));
}

TEST(RouterPrompts, PromptsAreCountedPerQueueByKindAndPerCall) {
  Router router(PolicyFromYaml(kPrompts), T(0));
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c2", "q"), T(1)).ok());
  router.AdvanceTo(T(61));
  absl::StatusOr<QueueView> view = router.Queue("q");
  EXPECT_EQ(view->prompts_played[static_cast<int>(PromptKind::kEntry)], 2u);
  EXPECT_EQ(view->prompts_played[static_cast<int>(PromptKind::kUpdate)], 4u);
  EXPECT_EQ(view->prompts_played[static_cast<int>(PromptKind::kCallbackOffer)], 0u);
  EXPECT_EQ(router.FindCall("c1")->prompts_played, 3u);
}

// ---------------------------------------------------------------------------------------------
// The wait estimate behind the prompts.

TEST(RouterEstimates, CallersWhoGiveUpShortenTheWaitOfThoseBehind) {
  Router router(PolicyFromYaml(kPrompts), T(0));
  Occupy(router, "q", 100);
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(100)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c2", "q"), T(100)).ok());
  EXPECT_THAT(absl::ToDoubleSeconds(*router.ExpectedWaitOf("c2")), DoubleNear(200, 1e-6))
      << "nobody has given up yet: two calls of 100 s before its turn";
  ASSERT_TRUE(router.Enqueue(Call("gone", "q"), T(100)).ok());
  ASSERT_TRUE(router.Abandon("gone", T(150)).ok());
  // The router tells the queue's estimator what happened: two callers served after 0 s, a call
  // of 100 s, a caller who gave up after 50 s. The same events give the same estimate.
  QueueWaitEstimator same;
  same.Served(absl::ZeroDuration(), T(0));
  same.HandleEnded(absl::Seconds(100), T(100));
  same.Served(absl::ZeroDuration(), T(100));
  same.Abandoned(absl::Seconds(50), T(150));
  absl::StatusOr<QueueView> view = router.Queue("q");
  EXPECT_GT(view->abandonment_rate_per_second, 0);
  EXPECT_EQ(view->abandonment_rate_per_second, same.abandonment_rate_per_second());
  EXPECT_THAT(view->mean_handle_seconds, DoubleNear(100, 1e-9));
  std::optional<CallView> c2 = router.FindCall("c2");
  ASSERT_TRUE(c2->expected_wait);
  EXPECT_LT(*c2->expected_wait, absl::Seconds(200));
  EXPECT_EQ(c2->expected_wait, same.Estimate({.ahead = 1, .servers = 1}, T(150)));
}

}  // namespace
}  // namespace acd::routing
