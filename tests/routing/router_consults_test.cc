// Router: warm (consult) transfers — the first agent stays on the line until another accepts,
// a consult cancelled, hung up, timed out or over the limit, and holds and reloads meanwhile.
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
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

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
// Regressions from the review of consults.

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
