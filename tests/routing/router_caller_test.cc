// Router: what the caller hears and the call flows around it — entry and update prompts, holds,
// warm (consult) transfers, callbacks — and the wait estimates behind the prompts.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/router.h"
#include "tests/routing/decision_lines.h"
#include "tests/routing/test_policy.h"

namespace acd::routing {
namespace {

using ::acd::routing::testing::Lines;
using ::acd::routing::testing::PolicyFromYaml;
using ::acd::routing::testing::Secs;
using ::acd::routing::testing::T;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

using Kind = Decision::Kind;
using PromptKind = Decision::PromptKind;

std::vector<std::string> Take(Router& router) { return Lines(router.TakeDecisions()); }

AgentSpec Agent(std::string id, std::vector<NamedSkill> skills, bool ready = true) {
  return AgentSpec{.agent_id = std::move(id), .skills = std::move(skills), .ready = ready};
}

CallSpec Call(std::string id, std::string queue, int priority = 0) {
  return CallSpec{.call_id = std::move(id), .queue = std::move(queue), .priority = priority};
}

// Agent `agent` (logged in at T(0)) serves one call of `talk` seconds in `queue`, which teaches the
// queue its handle time, then is busy with a second call ("h2") from T(talk) on. With nobody
// else, a caller at place n then expects n x talk.
void Occupy(Router& router, const std::string& queue, double talk, const std::string& agent = "a") {
  ASSERT_TRUE(router.Login(Agent(agent, {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("h1", queue), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("h1", agent, T(0)).ok());
  ASSERT_TRUE(router.EndCall("h1", T(talk)).ok());
  ASSERT_TRUE(router.Enqueue(Call("h2", queue), T(talk)).ok());
  ASSERT_TRUE(router.OfferAccepted("h2", agent, T(talk)).ok());
  ASSERT_THAT(Take(router), ElementsAre("offer h1 " + agent, "offer h2 " + agent));
}

// ---------------------------------------------------------------------------------------------
// Prompts in line.

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

constexpr char kCallbacks[] = R"(
skills: [{name: s}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: q
    skills: [{skill: s, min_proficiency: 1}]
    max_wait_seconds: 300
    fallback: "vm:q"
    prompts: {update_interval_seconds: 30}
    callbacks: {offer_when_ewt_over_seconds: 150, max_attempts: 2, retry_interval_seconds: 60}
    escalation:
      - {after_seconds: 100, raise_priority: {by: 5}}
      - {after_seconds: 200, fallback: {target: "vm:late"}}
  - name: plain
    skills: [{skill: s, min_proficiency: 1}]
)";

TEST(RouterPrompts, ALongWaitBringsOneCallbackOfferRightAfterThePrompt) {
  Router router(PolicyFromYaml(kCallbacks), T(0));
  Occupy(router, "q", 100);
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(100)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c2", "q"), T(101)).ok());
  EXPECT_THAT(Take(router), ElementsAre("entry c1 #1 120s", "entry c2 #2 240s",
                                        "callback_offer c2 240s"))
      << "c2 expects 200 s, over the 150 s threshold";
  router.AdvanceTo(T(131));
  EXPECT_THAT(Take(router), ElementsAre("update c1 120s", "update c2 240s")) << "offered once";
  EXPECT_EQ(router.Queue("q")->prompts_played[static_cast<int>(PromptKind::kCallbackOffer)], 1u);
}

// ---------------------------------------------------------------------------------------------
// Holds.

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

// ---------------------------------------------------------------------------------------------
// Warm (consult) transfers.

constexpr char kConsult[] = R"(
skills: [{name: sales}, {name: billing}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 1}]
    wrap_up_seconds: 5
  - name: billing
    skills: [{skill: billing, min_proficiency: 1}]
    max_wait_seconds: 30
    fallback: "vm:billing"
    transfers: {max_per_call: 1}
  - name: chat
    channel: chat
    skills: [{skill: sales, min_proficiency: 1}]
)";

// A connected with c1 (sales) at T(0); b and c, billing agents, logged in not ready.
void ConsultSetup(Router& router) {
  ASSERT_TRUE(router.Login(Agent("a", {{"sales", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("b", {{"billing", 1}}, /*ready=*/false), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("c", {{"billing", 1}}, /*ready=*/false), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(0)).ok());
  router.TakeDecisions();
}

TEST(RouterConsult, TheFirstAgentStaysOnTheLineUntilTheSecondAccepts) {
  Router router(PolicyFromYaml(kConsult), T(0));
  ConsultSetup(router);
  ASSERT_TRUE(router.StartHold("c1", absl::ZeroDuration(), T(5)).ok());
  absl::StatusOr<EnqueueResult> consult =
      router.StartConsult("c1", "a", {.queue = "billing"}, T(10));
  ASSERT_TRUE(consult.ok()) << consult.status();
  EXPECT_EQ(consult->disposition, EnqueueResult::Disposition::kQueued);
  EXPECT_THAT(Take(router), IsEmpty()) << "no prompt: the caller is with agent a";
  std::optional<CallView> view = router.FindCall("c1");
  EXPECT_EQ(view->state, CallState::kWaiting);
  EXPECT_EQ(view->queue, "billing");
  EXPECT_EQ(view->consulting_agent, "a");
  EXPECT_EQ(view->transfers, 1u);
  EXPECT_EQ(router.FindAgent("a")->state, AgentState::kBusy);
  EXPECT_EQ(router.FindAgent("a")->load[static_cast<int>(Channel::kVoice)], 1u);
  ASSERT_TRUE(router.SetReady("b", T(20)).ok());
  EXPECT_THAT(Take(router), ElementsAre("offer c1 b"));
  ASSERT_TRUE(router.OfferAccepted("c1", "b", T(25)).ok());
  EXPECT_THAT(Take(router), ElementsAre("transferred c1 a->b"));
  view = router.FindCall("c1");
  EXPECT_EQ(view->state, CallState::kConnected);
  EXPECT_EQ(view->agent_id, "b");
  EXPECT_EQ(view->consulting_agent, "");
  EXPECT_FALSE(view->on_hold) << "the completed consult ends the hold";
  EXPECT_EQ(view->hold_time, absl::Seconds(20));
  EXPECT_EQ(router.FindAgent("a")->state, AgentState::kWrapUp) << "sales wrap-up, as after a call";
  EXPECT_EQ(router.FindAgent("a")->load[static_cast<int>(Channel::kVoice)], 0u);
  EXPECT_EQ(router.FindAgent("b")->state, AgentState::kBusy);
}

TEST(RouterConsult, AnOfferThatFailsGoesToTheNextAgentWhileTheFirstStaysOn) {
  Router router(PolicyFromYaml(kConsult), T(0));
  ConsultSetup(router);
  ASSERT_TRUE(router.StartConsult("c1", "a", {.queue = "billing"}, T(10)).ok());
  ASSERT_TRUE(router.SetReady("b", T(11)).ok());
  ASSERT_TRUE(router.SetReady("c", T(11)).ok());
  std::vector<Decision> offer = router.TakeDecisions();
  ASSERT_EQ(offer.size(), 1u);
  const std::string first = offer[0].agent_id;
  const std::string second = first == "b" ? "c" : "b";
  ASSERT_TRUE(router.SetNotReady(first, "break", T(12)).ok());
  ASSERT_TRUE(router.OfferRejected("c1", first, T(12)).ok());
  EXPECT_THAT(Take(router), ElementsAre("offer c1 " + second));
  EXPECT_EQ(router.FindCall("c1")->consulting_agent, "a");
  EXPECT_EQ(router.FindAgent("a")->state, AgentState::kBusy);
}

TEST(RouterConsult, TheConsultingAgentIsNeverOfferedItsOwnConsult) {
  Router router(PolicyFromYaml(kConsult), T(0));
  AgentSpec chatter = Agent("a", {{"sales", 1}});
  chatter.capacity = {{Channel::kChat, 3}};
  ASSERT_TRUE(router.Login(chatter, T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "chat"), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(0)).ok());
  router.TakeDecisions();
  absl::StatusOr<EnqueueResult> consult = router.StartConsult("c1", "a", {.queue = "chat"}, T(10));
  ASSERT_TRUE(consult.ok());
  EXPECT_EQ(consult->disposition, EnqueueResult::Disposition::kQueued) << "a has room but is on it";
  ASSERT_TRUE(router.Enqueue(Call("c2", "chat"), T(11)).ok());
  EXPECT_THAT(Take(router), ElementsAre("offer c2 a")) << "other chats still reach a";
  ASSERT_TRUE(router.OfferAccepted("c2", "a", T(12)).ok());
  router.AdvanceTo(T(500));
  EXPECT_THAT(Take(router), IsEmpty()) << "not even once the transfer's avoidance window is over";
}

TEST(RouterConsult, CancellingWithdrawsTheRingingOfferWithoutAMissAndReconnects) {
  Router router(PolicyFromYaml(kConsult), T(0));
  ConsultSetup(router);
  ASSERT_TRUE(router.StartConsult("c1", "a", {.queue = "billing"}, T(10)).ok());
  ASSERT_TRUE(router.SetReady("b", T(11)).ok());
  router.TakeDecisions();
  EXPECT_EQ(router.CancelConsult("c1", "b", T(12)).code(), absl::StatusCode::kFailedPrecondition)
      << "only the consulting agent cancels";
  ASSERT_TRUE(router.CancelConsult("c1", "a", T(12)).ok());
  EXPECT_THAT(Take(router), ElementsAre("cancel c1 b consult_cancelled"));
  std::optional<CallView> view = router.FindCall("c1");
  EXPECT_EQ(view->state, CallState::kConnected);
  EXPECT_EQ(view->agent_id, "a");
  EXPECT_EQ(view->queue, "sales");
  EXPECT_EQ(view->transfers, 0u) << "the transfer never happened";
  std::optional<AgentView> b = router.FindAgent("b");
  EXPECT_EQ(b->state, AgentState::kReady);
  EXPECT_EQ(b->missed_offers_in_a_row, 0u);
  EXPECT_EQ(router.CancelConsult("c1", "a", T(13)).code(), absl::StatusCode::kFailedPrecondition);
  router.AdvanceTo(T(100));
  EXPECT_THAT(Take(router), IsEmpty()) << "no timer of the consult is left behind";
  ASSERT_TRUE(router.EndCall("c1", T(100)).ok());
  EXPECT_EQ(router.FindAgent("a")->state, AgentState::kWrapUp);
}

TEST(RouterConsult, AHangUpDuringAConsultEndsTheWholeCall) {
  Router router(PolicyFromYaml(kConsult), T(0));
  ConsultSetup(router);
  ASSERT_TRUE(router.StartConsult("c1", "a", {.queue = "billing"}, T(10)).ok());
  ASSERT_TRUE(router.SetReady("b", T(11)).ok());
  router.TakeDecisions();
  ASSERT_TRUE(router.Abandon("c1", T(12)).ok());
  EXPECT_THAT(Take(router), ElementsAre("cancel c1 b abandoned"));
  EXPECT_FALSE(router.FindCall("c1"));
  EXPECT_EQ(router.FindAgent("a")->state, AgentState::kWrapUp);
  EXPECT_EQ(router.FindAgent("b")->state, AgentState::kReady);

  Router ended(PolicyFromYaml(kConsult), T(0));
  ConsultSetup(ended);
  ASSERT_TRUE(ended.StartConsult("c1", "a", {.queue = "billing"}, T(10)).ok());
  ASSERT_TRUE(ended.EndCall("c1", T(15)).ok()) << "the consulting agent hangs up with the caller";
  EXPECT_FALSE(ended.FindCall("c1"));
  EXPECT_EQ(ended.FindAgent("a")->state, AgentState::kWrapUp);
  EXPECT_EQ(ended.Queue("sales")->mean_handle_seconds, 20) << "15 s of talk + 5 s wrap-up";
}

TEST(RouterConsult, MaxWaitDuringAConsultSendsTheCallOnAndLetsTheAgentGo) {
  Router router(PolicyFromYaml(kConsult), T(0));
  ConsultSetup(router);
  ASSERT_TRUE(router.StartConsult("c1", "a", {.queue = "billing"}, T(10)).ok());
  router.AdvanceTo(T(40));  // billing's max_wait_seconds: 30
  EXPECT_THAT(Take(router), ElementsAre("fallback c1 vm:billing max_wait"));
  EXPECT_FALSE(router.FindCall("c1"));
  EXPECT_EQ(router.FindAgent("a")->state, AgentState::kWrapUp);
}

TEST(RouterConsult, OverTheTransferLimitAConsultGoesToTheFallback) {
  Router router(PolicyFromYaml(kConsult), T(0));
  ConsultSetup(router);
  ASSERT_TRUE(router.StartConsult("c1", "a", {.queue = "billing"}, T(10)).ok());
  ASSERT_TRUE(router.SetReady("b", T(11)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "b", T(12)).ok());
  router.TakeDecisions();
  absl::StatusOr<EnqueueResult> again = router.StartConsult("c1", "b", {.queue = "billing"}, T(20));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->disposition, EnqueueResult::Disposition::kSentToFallback);
  EXPECT_EQ(again->fallback, "vm:billing");
  EXPECT_THAT(Take(router), ElementsAre("fallback c1 vm:billing too_many_transfers"));
  EXPECT_FALSE(router.FindCall("c1"));
  EXPECT_EQ(router.FindAgent("b")->state, AgentState::kReady) << "billing has no wrap-up";
}

TEST(RouterConsult, RefusesConsultsThatCannotWork) {
  Router router(PolicyFromYaml(kConsult), T(0));
  ConsultSetup(router);
  ASSERT_TRUE(router.Enqueue(Call("w1", "sales"), T(1)).ok());
  EXPECT_EQ(router.StartConsult("w1", "a", {.queue = "billing"}, T(2)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(router.StartConsult("c1", "b", {.queue = "billing"}, T(2)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(router.StartConsult("c1", "a", {.queue = "nope"}, T(2)).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(router.CancelConsult("c1", "a", T(2)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(router.FindCall("c1")->state, CallState::kConnected);
}

// ---------------------------------------------------------------------------------------------
// Callbacks.

TEST(RouterCallbacks, AnAcceptedCallbackKeepsItsPlaceWithoutPromptsOrWaitLimits) {
  Router router(PolicyFromYaml(kCallbacks), T(0));
  Occupy(router, "q", 100);
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(100)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c2", "q"), T(101)).ok());
  router.TakeDecisions();
  ASSERT_TRUE(router.AcceptCallback("c2", T(105)).ok());
  ASSERT_TRUE(router.AcceptCallback("c2", T(106)).ok()) << "a retry answers the same";
  std::optional<CallView> view = router.FindCall("c2");
  EXPECT_TRUE(view->callback);
  EXPECT_EQ(view->position, 2);
  router.AdvanceTo(T(131));
  EXPECT_THAT(Take(router), ElementsAre("update c1 120s")) << "c2 hears no more prompts";
  router.AdvanceTo(T(500));
  std::vector<std::string> lines = Take(router);
  EXPECT_THAT(lines, ::testing::Contains("fallback c1 vm:late escalation"));
  for (const std::string& line : lines) EXPECT_THAT(line, ::testing::Not(HasSubstr("c2"))) << line;
  view = router.FindCall("c2");
  ASSERT_TRUE(view) << "neither max wait nor the fallback step sends a callback away";
  EXPECT_EQ(view->priority, 5) << "other steps still apply";
  absl::StatusOr<QueueView> queue = router.Queue("q");
  EXPECT_EQ(queue->callbacks_accepted, 1u);
  EXPECT_EQ(queue->callbacks_waiting, 1);
  EXPECT_EQ(queue->calls_waiting, 1);
}

TEST(RouterCallbacks, WhenItsTurnComesAnAgentIsReservedToDialOut) {
  Router router(PolicyFromYaml(kCallbacks), T(0));
  Occupy(router, "q", 100);
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(100)).ok());
  ASSERT_TRUE(router.AcceptCallback("c1", T(101)).ok());
  router.TakeDecisions();
  ASSERT_TRUE(router.EndCall("h2", T(150)).ok());
  EXPECT_THAT(Take(router), ElementsAre("callback c1 a #1"));
  EXPECT_EQ(router.FindAgent("a")->state, AgentState::kReserved);
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(151)).ok());
  EXPECT_EQ(router.FindCall("c1")->state, CallState::kConnected);
}

TEST(RouterCallbacks, ACustomerNotReachedFreesTheAgentAndKeepsTheirPlaceForTheRetry) {
  Router router(PolicyFromYaml(kCallbacks), T(0));
  Occupy(router, "q", 100);
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(100)).ok());
  ASSERT_TRUE(router.AcceptCallback("c1", T(101)).ok());
  ASSERT_TRUE(router.EndCall("h2", T(150)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(150)).ok());
  router.TakeDecisions();
  ASSERT_TRUE(router.CallbackNotReached("c1", "a", T(160)).ok());
  std::optional<AgentView> a = router.FindAgent("a");
  EXPECT_EQ(a->state, AgentState::kReady) << "no wrap-up after a call nobody answered";
  EXPECT_EQ(a->missed_offers_in_a_row, 0u);
  std::optional<CallView> view = router.FindCall("c1");
  EXPECT_EQ(view->state, CallState::kCallbackPending);
  EXPECT_EQ(view->callback_attempts, 1);
  EXPECT_EQ(router.calls_waiting(), 0u);
  // A later caller takes the free agent meanwhile; the callback then comes back ahead of others.
  ASSERT_TRUE(router.Enqueue(Call("x", "q"), T(170)).ok());
  ASSERT_TRUE(router.OfferAccepted("x", "a", T(170)).ok());
  ASSERT_TRUE(router.Enqueue(Call("later", "q"), T(180)).ok());
  router.AdvanceTo(T(219.9));
  EXPECT_EQ(router.FindCall("c1")->state, CallState::kCallbackPending);
  router.AdvanceTo(T(220));  // retry_interval_seconds: 60
  EXPECT_EQ(router.FindCall("c1")->state, CallState::kWaiting);
  EXPECT_EQ(router.FindCall("c1")->position, 1) << "its original arrival puts it ahead of 'later'";
  router.TakeDecisions();
  ASSERT_TRUE(router.EndCall("x", T(230)).ok());
  EXPECT_THAT(Take(router), ElementsAre("callback c1 a #2"));
}

TEST(RouterCallbacks, TheCallbackGivesUpAfterItsLastAttempt) {
  Router router(PolicyFromYaml(kCallbacks), T(0));
  Occupy(router, "q", 100);
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(100)).ok());
  ASSERT_TRUE(router.AcceptCallback("c1", T(101)).ok());
  router.TakeDecisions();
  ASSERT_TRUE(router.EndCall("h2", T(150)).ok());
  for (int attempt = 1; attempt <= 2; ++attempt) {  // max_attempts: 2
    const double t = 150 + 65 * (attempt - 1);  // retry_interval_seconds: 60
    router.AdvanceTo(T(t));
    EXPECT_THAT(Take(router), ElementsAre(absl::StrCat("callback c1 a #", attempt)));
    ASSERT_TRUE(router.OfferAccepted("c1", "a", T(t)).ok());
    ASSERT_TRUE(router.CallbackNotReached("c1", "a", T(t + 5)).ok());
  }
  EXPECT_THAT(Take(router), ElementsAre("gave_up c1 #2"));
  EXPECT_FALSE(router.FindCall("c1"));
  EXPECT_EQ(router.Queue("q")->callbacks_gave_up, 1u);
  EXPECT_EQ(router.FindAgent("a")->state, AgentState::kReady);
}

TEST(RouterCallbacks, ACustomerMayCancelAWaitingOrPendingCallback) {
  Router router(PolicyFromYaml(kCallbacks), T(0));
  Occupy(router, "q", 100);
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(100)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c2", "q"), T(100)).ok());
  ASSERT_TRUE(router.AcceptCallback("c1", T(101)).ok());
  ASSERT_TRUE(router.AcceptCallback("c2", T(101)).ok());
  ASSERT_TRUE(router.Abandon("c2", T(102)).ok());
  EXPECT_FALSE(router.FindCall("c2"));
  EXPECT_EQ(router.Queue("q")->abandonment_rate_per_second, 0)
      << "a callback customer off the line says nothing about patience in line";
  ASSERT_TRUE(router.EndCall("h2", T(150)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(150)).ok());
  ASSERT_TRUE(router.CallbackNotReached("c1", "a", T(155)).ok());
  ASSERT_TRUE(router.Abandon("c1", T(160)).ok());
  EXPECT_FALSE(router.FindCall("c1"));
  EXPECT_EQ(router.call_count(), 0u);
}

TEST(RouterCallbacks, RefusesCallbackEventsThatCannotWork) {
  Router router(PolicyFromYaml(kCallbacks), T(0));
  ASSERT_TRUE(router.Enqueue(Call("p1", "plain"), T(0)).ok());
  absl::Status none = router.AcceptCallback("p1", T(1));
  EXPECT_EQ(none.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(none.message(), HasSubstr("queue 'plain'"));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(2)).ok());
  router.TakeDecisions();  // p1 offered to a
  EXPECT_EQ(router.AcceptCallback("p1", T(3)).code(), absl::StatusCode::kFailedPrecondition)
      << "not while ringing an agent";
  ASSERT_TRUE(router.OfferAccepted("p1", "a", T(3)).ok());
  EXPECT_EQ(router.CallbackNotReached("p1", "a", T(4)).code(), absl::StatusCode::kFailedPrecondition)
      << "not a callback";
  EXPECT_EQ(router.AcceptCallback("nope", T(4)).code(), absl::StatusCode::kNotFound);
}

// ---------------------------------------------------------------------------------------------
// Wait estimates.

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

// ---------------------------------------------------------------------------------------------
// Regressions from the review of this code.

constexpr char kChatPreferred[] = R"(
skills: [{name: sales}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: chat
    channel: chat
    skills: [{skill: sales, min_proficiency: 1}]
    preferred_agent: {timeout_seconds: 600}
    transfers: {agent_wait_seconds: 10}
)";

// Found in review: a reload restarted the consult's stint and held the call for its preferred
// agent, who was the consulting one; accepting that offer crashed the router.
TEST(RouterReviewFixes, AReloadDuringAChatConsultNeverOffersTheCallToTheConsultingAgent) {
  Router router(PolicyFromYaml(kChatPreferred), T(0));
  AgentSpec a = Agent("a", {{"sales", 1}});
  a.capacity = {{Channel::kChat, 3}};
  ASSERT_TRUE(router.Login(a, T(0)).ok());
  CallSpec c = Call("c1", "chat");
  c.preferred_agent = "a";
  ASSERT_TRUE(router.Enqueue(c, T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(0)).ok());
  router.TakeDecisions();
  ASSERT_TRUE(router.StartConsult("c1", "a", {.queue = "chat"}, T(10)).ok());
  EXPECT_THAT(Take(router), IsEmpty());
  ASSERT_TRUE(router.ReplacePolicy(PolicyFromYaml(kChatPreferred), T(11)).ok());
  router.AdvanceTo(T(21));  // kAvoidEnd -> TryRouteCall -> FindAgentFor preferred path
  EXPECT_THAT(Take(router), IsEmpty()) << "the consulting agent is never offered its own consult";
  EXPECT_EQ(router.FindCall("c1")->state, CallState::kWaiting);
  EXPECT_EQ(router.FindCall("c1")->consulting_agent, "a");
}

constexpr char kVoiceOverflow[] = R"(
skills: [{name: sales}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: q1
    skills: [{skill: sales, min_proficiency: 1}]
    preferred_agent: {timeout_seconds: 600}
  - name: q2
    skills: [{skill: sales, min_proficiency: 1}]
    escalation: [{after_seconds: 5, overflow: {queue: q3}}]
  - name: q3
    skills: [{skill: sales, min_proficiency: 1}]
    preferred_agent: {timeout_seconds: 600}
)";

// Found in review: an overflow during a consult held the call for the consulting agent (its
// preferred agent), so a free agent was never offered it.
TEST(RouterReviewFixes, AnOverflowDuringAConsultDoesNotHoldTheCallForTheConsultingAgent) {
  Router router(PolicyFromYaml(kVoiceOverflow), T(0));
  AgentSpec a = Agent("a", {{"sales", 1}});
  ASSERT_TRUE(router.Login(a, T(0)).ok());
  CallSpec c = Call("c1", "q1");
  c.preferred_agent = "a";
  ASSERT_TRUE(router.Enqueue(c, T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("b", {{"sales", 1}}, false), T(0)).ok());
  router.TakeDecisions();
  ASSERT_TRUE(router.StartConsult("c1", "a", {.queue = "q2"}, T(10)).ok());
  router.AdvanceTo(T(16));  // overflow to q3
  Take(router);
  ASSERT_TRUE(router.SetReady("b", T(20)).ok());
  EXPECT_THAT(Take(router), ElementsAre("offer c1 b")) << "b is free and eligible";
}

constexpr char kCallbackPreferred[] = R"(
skills: [{name: s}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: q
    skills: [{skill: s, min_proficiency: 1}]
    preferred_agent: {timeout_seconds: 300}
    callbacks: {offer_when_ewt_over_seconds: 1, max_attempts: 3, retry_interval_seconds: 60}
)";

// Found in review: a callback retried inside its preferred-agent window waited for that agent
// with no timer left to end the window, stranding it while another agent idled.
TEST(RouterReviewFixes, ARetriedCallbackGoesToAFreeAgentNotBackToThePreferredOne) {
  Router router(PolicyFromYaml(kCallbackPreferred), T(0));
  ASSERT_TRUE(router.Login(Agent("p", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("x", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("h1", "q"), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("h2", "q"), T(0)).ok());
  router.TakeDecisions();
  ASSERT_TRUE(router.OfferAccepted("h1", router.FindCall("h1")->agent_id, T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("h2", router.FindCall("h2")->agent_id, T(0)).ok());
  CallSpec c = Call("c1", "q");
  c.preferred_agent = "p";
  ASSERT_TRUE(router.Enqueue(c, T(1)).ok());
  ASSERT_TRUE(router.AcceptCallback("c1", T(2)).ok());
  const std::string h_of_p = router.FindCall("h1")->agent_id == "p" ? "h1" : "h2";
  const std::string h_of_x = h_of_p == "h1" ? "h2" : "h1";
  router.TakeDecisions();
  ASSERT_TRUE(router.EndCall(h_of_p, T(10)).ok());
  EXPECT_THAT(Take(router), ElementsAre("callback c1 p #1"));
  ASSERT_TRUE(router.OfferAccepted("c1", "p", T(10)).ok());
  ASSERT_TRUE(router.CallbackNotReached("c1", "p", T(20)).ok());
  ASSERT_TRUE(router.Enqueue(Call("h3", "q"), T(30)).ok());
  ASSERT_TRUE(router.OfferAccepted("h3", "p", T(30)).ok());
  ASSERT_TRUE(router.EndCall(h_of_x, T(40)).ok());
  router.TakeDecisions();
  router.AdvanceTo(T(80));  // the retry: p had its turn and is busy; x is free
  EXPECT_THAT(Take(router), ElementsAre("callback c1 x #2"));
  EXPECT_EQ(router.FindAgent("x")->state, AgentState::kReserved);
}

constexpr char kMaxWaitFallback[] = R"(
skills: [{name: s}]
queues:
  - name: q
    skills: [{skill: s, min_proficiency: 1}]
    max_wait_seconds: 60
    fallback: "vm:q"
)";

// Found in review: callers who left at max wait waited 60 s each without hanging up; leaving
// that time out of theta = abandons / time waited made callers look five times less patient.
TEST(RouterReviewFixes, CallersSentToTheFallbackCountAsPatienceWithoutAnAbandon) {
  Router router(PolicyFromYaml(kMaxWaitFallback), T(0));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(router.Enqueue(Call("f" + std::to_string(i), "q"), T(0)).ok());
  }
  ASSERT_TRUE(router.Enqueue(Call("ab", "q"), T(0)).ok());
  ASSERT_TRUE(router.Abandon("ab", T(10)).ok());
  router.AdvanceTo(T(100));
  EXPECT_EQ(router.call_count(), 0u);
  // 1 abandon over 10 s + 10 x 60 s waited (+ the estimator's 120 s prior) = 1 / 730 s.
  EXPECT_NEAR(router.Queue("q")->abandonment_rate_per_second, 1.0 / 730, 1e-4);
}

constexpr char kHoldReload[] = R"(
skills: [{name: sales}, {name: billing}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 1}]
    wrap_up_seconds: 5
    prompts: {update_interval_seconds: 30}
  - name: billing
    skills: [{skill: billing, min_proficiency: 1}]
    prompts: {update_interval_seconds: 30}
)";

// A reload during a consult of a held call: no prompts to that caller, the consulting agent stays
// busy, and the consult can still be cancelled with the hold intact.
TEST(RouterReviewFixes, AReloadDuringAHeldConsultLeavesNothingStuck) {
  Router router(PolicyFromYaml(kHoldReload), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"sales", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("b", {{"billing", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("busy", "billing"), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("busy", "b", T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(0)).ok());
  ASSERT_TRUE(router.StartHold("c1", absl::Seconds(100), T(1)).ok());
  ASSERT_TRUE(router.StartConsult("c1", "a", {.queue = "billing"}, T(5)).ok());
  router.TakeDecisions();
  ASSERT_TRUE(router.ReplacePolicy(PolicyFromYaml(kHoldReload), T(6)).ok());
  router.AdvanceTo(T(100));
  for (const std::string& l : Take(router)) {
    EXPECT_THAT(l, Not(StartsWith("update"))) << l;
    EXPECT_THAT(l, Not(StartsWith("entry"))) << l;
  }
  EXPECT_EQ(router.FindAgent("a")->state, AgentState::kBusy);
  ASSERT_TRUE(router.CancelConsult("c1", "a", T(100)).ok());
  EXPECT_EQ(router.FindCall("c1")->state, CallState::kConnected);
  EXPECT_TRUE(router.FindCall("c1")->on_hold);
  ASSERT_TRUE(router.EndCall("c1", T(110)).ok());
  ASSERT_TRUE(router.EndCall("busy", T(110)).ok());
  router.AdvanceTo(T(1000));
  EXPECT_FALSE(router.NextWakeup());
  EXPECT_EQ(router.FindAgent("a")->state, AgentState::kReady);
  EXPECT_EQ(router.FindAgent("b")->state, AgentState::kReady);
}

TEST(RouterReviewFixes, ACallbackReservedForAnAgentWhoLogsOutGoesToTheNextAgent) {
  Router router(PolicyFromYaml(kCallbackPreferred), T(0));
  ASSERT_TRUE(router.Login(Agent("p", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("h1", "q"), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("h1", "p", T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(1)).ok());
  ASSERT_TRUE(router.AcceptCallback("c1", T(2)).ok());
  ASSERT_TRUE(router.EndCall("h1", T(10)).ok());
  router.TakeDecisions();
  ASSERT_TRUE(router.Login(Agent("x", {{"s", 1}}, false), T(11)).ok());
  ASSERT_TRUE(router.Logout("p", T(12)).ok());
  EXPECT_THAT(Take(router), ElementsAre("cancel c1 p agent_logged_out"));
  ASSERT_TRUE(router.SetReady("x", T(13)).ok());
  EXPECT_THAT(Take(router), ElementsAre("callback c1 x #1"));
}

TEST(RouterReviewFixes, TheConsultingAgentCanPutTheCallerOnHold) {
  Router router(PolicyFromYaml(kHoldReload), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"sales", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(0)).ok());
  ASSERT_TRUE(router.StartConsult("c1", "a", {.queue = "billing"}, T(5)).ok());
  ASSERT_TRUE(router.StartHold("c1", absl::Seconds(30), T(6)).ok());
  EXPECT_TRUE(router.FindCall("c1")->on_hold);
  ASSERT_TRUE(router.EndHold("c1", T(16)).ok());
  EXPECT_EQ(router.FindCall("c1")->hold_time, absl::Seconds(10));
}

}  // namespace
}  // namespace acd::routing
