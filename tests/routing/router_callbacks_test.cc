// Router: callbacks — the offer after a prompt, a caller who accepts keeps their place, an agent
// reserved to dial out when it comes, retries of a customer not reached, and giving up.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/router.h"
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
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using PromptKind = Decision::PromptKind;

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
// Regressions from the review of callbacks.

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

}  // namespace
}  // namespace acd::routing
