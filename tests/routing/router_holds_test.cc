// Router: holds of a connected call — reminders to the caller and the agent, overruns flagged
// once each, hold counts and time per call, and what ends a hold.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/router.h"
#include "tests/routing/router_helpers.h"
#include "tests/routing/test_policy.h"

namespace acd::routing {
namespace {

using ::acd::routing::testing::Agent;
using ::acd::routing::testing::Call;
using ::acd::routing::testing::PolicyFromYaml;
using ::acd::routing::testing::T;
using ::acd::routing::testing::Take;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using PromptKind = Decision::PromptKind;

constexpr char kHolds[] = R"(
skills: [{name: s}]
queues:
  - name: q
    skills: [{skill: s, min_proficiency: 1}]
    holds: {reminder_interval_seconds: 30, max_seconds: 100}
)";

// Connects c1 with agent a at T(0).
void Connected(Router& router) {
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(0)).ok());
  router.TakeDecisions();
}

TEST(RouterHolds, AHeldCallerAndTheirAgentAreRemindedEveryInterval) {
  Router router(PolicyFromYaml(kHolds), T(0));
  Connected(router);
  ASSERT_TRUE(router.StartHold("c1", absl::ZeroDuration(), T(10)).ok());
  router.AdvanceTo(T(39.9));
  EXPECT_THAT(Take(router), IsEmpty());
  router.AdvanceTo(T(40));
  EXPECT_THAT(Take(router), ElementsAre("hold c1 30s", "remind a c1 30s"));
  router.AdvanceTo(T(70));
  EXPECT_THAT(Take(router), ElementsAre("hold c1 60s", "remind a c1 60s"));
  ASSERT_TRUE(router.EndHold("c1", T(75)).ok());
  router.AdvanceTo(T(200));
  EXPECT_THAT(Take(router), IsEmpty());
  EXPECT_EQ(router.FindCall("c1")->prompts_played, 2u);
  EXPECT_EQ(router.Queue("q")->prompts_played[static_cast<int>(PromptKind::kHoldReminder)], 2u);
}

TEST(RouterHolds, AHoldPastWhatTheCallerWasToldAndPastTheMaximumIsFlaggedOnceEach) {
  Router router(PolicyFromYaml(kHolds), T(0));
  Connected(router);
  ASSERT_TRUE(router.StartHold("c1", absl::Seconds(50), T(10)).ok());
  router.AdvanceTo(T(40));
  EXPECT_THAT(Take(router), ElementsAre("hold c1 30s", "remind a c1 30s"));
  router.AdvanceTo(T(60));
  EXPECT_THAT(Take(router), ElementsAre("overrun c1 expected 50s"));
  router.AdvanceTo(T(100));
  EXPECT_THAT(Take(router), ElementsAre("hold c1 60s", "remind a c1 60s", "hold c1 90s",
                                        "remind a c1 90s"));
  router.AdvanceTo(T(110));
  EXPECT_THAT(Take(router), ElementsAre("overrun c1 max 100s"));
  router.AdvanceTo(T(200));
  EXPECT_THAT(Take(router), ElementsAre("hold c1 120s", "remind a c1 120s", "hold c1 150s",
                                        "remind a c1 150s", "hold c1 180s", "remind a c1 180s"))
      << "reminders go on; overruns are flagged once";
  EXPECT_EQ(router.Queue("q")->hold_overruns, 2u);
}

TEST(RouterHolds, HoldsAndHoldTimeAreKeptPerCall) {
  Router router(PolicyFromYaml(kHolds), T(0));
  Connected(router);
  ASSERT_TRUE(router.StartHold("c1", absl::Seconds(20), T(10)).ok());
  ASSERT_TRUE(router.EndHold("c1", T(25)).ok());
  ASSERT_TRUE(router.StartHold("c1", absl::Seconds(20), T(40)).ok());
  router.AdvanceTo(T(50));
  std::optional<CallView> view = router.FindCall("c1");
  EXPECT_TRUE(view->on_hold);
  EXPECT_EQ(view->holds, 2u);
  EXPECT_EQ(view->hold_time, absl::Seconds(25)) << "15 s ended plus 10 s so far";
  ASSERT_TRUE(router.EndHold("c1", T(55)).ok());
  view = router.FindCall("c1");
  EXPECT_FALSE(view->on_hold);
  EXPECT_EQ(view->hold_time, absl::Seconds(30));
}

TEST(RouterHolds, HoldEventsInTheWrongStateAreRefused) {
  Router router(PolicyFromYaml(kHolds), T(0));
  Connected(router);
  ASSERT_TRUE(router.Enqueue(Call("w1", "q"), T(1)).ok());
  absl::Status waiting = router.StartHold("w1", absl::ZeroDuration(), T(1));
  EXPECT_EQ(waiting.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(waiting.message(), HasSubstr("'w1'"));
  EXPECT_EQ(router.EndHold("c1", T(2)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(router.StartHold("c1", absl::Seconds(-1), T(2)).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(router.StartHold("c1", absl::ZeroDuration(), T(2)).ok());
  EXPECT_EQ(router.StartHold("c1", absl::ZeroDuration(), T(3)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(router.StartHold("nope", absl::ZeroDuration(), T(3)).code(),
            absl::StatusCode::kNotFound);
}

TEST(RouterHolds, ABlindTransferOrTheEndOfTheCallEndsTheHold) {
  Router router(PolicyFromYaml(kHolds), T(0));
  Connected(router);
  ASSERT_TRUE(router.Login(Agent("b", {{"s", 1}}, /*ready=*/false), T(0)).ok());
  ASSERT_TRUE(router.StartHold("c1", absl::ZeroDuration(), T(10)).ok());
  ASSERT_TRUE(router.Transfer("c1", "a", {.queue = "q"}, T(20)).ok());
  std::optional<CallView> view = router.FindCall("c1");
  EXPECT_FALSE(view->on_hold);
  EXPECT_EQ(view->hold_time, absl::Seconds(10));
  router.AdvanceTo(T(40));
  for (const std::string& line : Take(router)) {
    EXPECT_THAT(line, ::testing::Not(HasSubstr("remind"))) << line;
  }
  ASSERT_TRUE(router.SetReady("b", T(41)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "b", T(41)).ok());
  ASSERT_TRUE(router.StartHold("c1", absl::ZeroDuration(), T(50)).ok());
  ASSERT_TRUE(router.EndCall("c1", T(60)).ok());
  router.TakeDecisions();
  router.AdvanceTo(T(200));
  EXPECT_THAT(Take(router), IsEmpty());
  EXPECT_FALSE(router.NextWakeup()) << "no timer of the ended call is left";
}

}  // namespace
}  // namespace acd::routing
