// Router: offers and their answers — timeouts, rejections, missed offers and cooldowns, a hang-up
// or a logout while ringing — the events it refuses, and wrap-up before the next offer.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/router.h"
#include "tests/routing/decision_lines.h"
#include "tests/routing/router_helpers.h"
#include "tests/routing/test_policy.h"

namespace acd::routing {
namespace {

using ::acd::routing::testing::Agent;
using ::acd::routing::testing::Call;
using ::acd::routing::testing::Lines;
using ::acd::routing::testing::PolicyFromYaml;
using ::acd::routing::testing::Routing;
using ::acd::routing::testing::T;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kOffers[] = R"(
skills: [{name: s}]
agent_rules: {max_missed_offers: 2, reject_delay_seconds: 5, no_answer_delay_seconds: 10}
queues:
  - {name: q, skills: [{skill: s, min_proficiency: 1}], offer_timeout_seconds: 20, wrap_up_seconds: 0}
)";

TEST(Router, AnUnansweredOfferTimesOutAndTheCallKeepsItsPlace) {
  Router router(PolicyFromYaml(kOffers), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("first", "q"), T(1)).ok());
  ASSERT_TRUE(router.Enqueue(Call("second", "q"), T(2)).ok());
  ASSERT_TRUE(router.Enqueue(Call("third", "q"), T(3)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer first a"));
  EXPECT_EQ(router.FindCall("second")->position, 1);
  router.AdvanceTo(T(21));  // offered at 1, timeout 20
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("cancel first a no_answer"));
  EXPECT_EQ(router.FindCall("first")->position, 1);
  EXPECT_EQ(router.FindCall("second")->position, 2);
  EXPECT_EQ(router.FindCall("third")->position, 3);
  EXPECT_EQ(router.FindAgent("a")->missed_offers_in_a_row, 1u);
}

TEST(Router, ARejectedCallGoesToTheNextEligibleAgent) {
  Router router(PolicyFromYaml(kOffers), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("b", {{"s", 1}}), T(1)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(2)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 a"));
  ASSERT_TRUE(router.OfferRejected("c1", "a", T(3)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 b"));
  // a cools down for the reject delay, then takes the next call.
  ASSERT_TRUE(router.Enqueue(Call("c2", "q"), T(4)).ok());
  EXPECT_TRUE(Routing(router).empty());
  router.AdvanceTo(T(8));
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c2 a"));
}

TEST(Router, KConsecutiveMissesPutTheAgentNotReady) {
  Router router(PolicyFromYaml(kOffers), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  ASSERT_TRUE(router.OfferNotAnswered("c1", "a", T(5)).ok());
  router.AdvanceTo(T(15));  // no-answer delay 10: offered again
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 a", "offer c1 a"));
  ASSERT_TRUE(router.OfferRejected("c1", "a", T(16)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("not_ready a missed_offers"));
  std::optional<AgentView> a = router.FindAgent("a");
  EXPECT_EQ(a->state, AgentState::kNotReady);
  EXPECT_EQ(a->not_ready_reason, "missed_offers");
  EXPECT_EQ(router.FindCall("c1")->state, CallState::kWaiting);
  // Ready again: the count starts over and the call is offered at once.
  ASSERT_TRUE(router.SetReady("a", T(20)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 a"));
  EXPECT_EQ(router.FindAgent("a")->missed_offers_in_a_row, 0u);
}

TEST(Router, AnAcceptedOfferResetsTheMissCount) {
  Router router(PolicyFromYaml(kOffers), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  ASSERT_TRUE(router.OfferRejected("c1", "a", T(1)).ok());
  router.AdvanceTo(T(6));
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(7)).ok());
  EXPECT_EQ(router.FindAgent("a")->missed_offers_in_a_row, 0u);
  EXPECT_EQ(router.FindAgent("a")->state, AgentState::kBusy);
}

TEST(Router, AnAgentCoolingDownAfterAMissIsNotShownReady) {
  Router router(PolicyFromYaml(kOffers), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  ASSERT_TRUE(router.OfferRejected("c1", "a", T(1)).ok());
  std::optional<AgentView> a = router.FindAgent("a");
  EXPECT_EQ(a->state, AgentState::kNotReady);
  EXPECT_EQ(a->not_ready_reason, "offer_cooldown");
  EXPECT_EQ(router.Queue("q")->agents_by_state[static_cast<int>(AgentState::kReady)], 0);
  router.AdvanceTo(T(6));  // reject delay 5 s
  EXPECT_EQ(router.FindAgent("a")->state, AgentState::kReserved);
}

TEST(Router, ACallerWhoHangsUpDuringAnOfferFreesTheAgentWithoutAMiss) {
  Router router(PolicyFromYaml(kOffers), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c2", "q"), T(1)).ok());
  Routing(router);
  ASSERT_TRUE(router.Abandon("c1", T(2)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("cancel c1 a abandoned", "offer c2 a"));
  EXPECT_EQ(router.FindAgent("a")->missed_offers_in_a_row, 0u);
  EXPECT_FALSE(router.FindCall("c1"));
}

TEST(Router, LogoutDuringAnOfferPutsTheCallBackAndCancelsTheRinging) {
  Router router(PolicyFromYaml(kOffers), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("b", {{"s", 1}}, /*ready=*/false), T(1)).ok());
  Routing(router);
  ASSERT_TRUE(router.Logout("a", T(2)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("cancel c1 a agent_logged_out"));
  ASSERT_TRUE(router.SetReady("b", T(3)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 b"));
  EXPECT_EQ(router.FindCall("c1")->arrived, T(0));
}

TEST(Router, AnAgentOnACallCannotLogOut) {
  Router router(PolicyFromYaml(kOffers), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(1)).ok());
  absl::Status s = router.Logout("a", T(2));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("in progress"));
}

TEST(Router, RefusesBadEventsWithClearCodes) {
  Router router(PolicyFromYaml(kOffers), T(0));
  EXPECT_EQ(router.Enqueue(Call("", "q"), T(0)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Enqueue(Call(std::string(200, 'x'), "q"), T(0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Enqueue(Call("c", "nope"), T(0)).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(router.Enqueue(Call("c", "q"), T(0)).ok());
  EXPECT_EQ(router.Enqueue(Call("c", "q"), T(0)).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(router.EndCall("c", T(0)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(router.OfferAccepted("c", "a", T(0)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(router.Abandon("ghost", T(0)).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(router.SetReady("ghost", T(0)).code(), absl::StatusCode::kFailedPrecondition);
  absl::Status bad_skill = router.Login(Agent("a", {{"nope", 3}}), T(0));
  EXPECT_EQ(bad_skill.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_skill.message(), HasSubstr("unknown skill 'nope'"));
  EXPECT_EQ(router.Login(Agent("a", {{"s", 9}}), T(0)).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 3}}), T(0)).ok());
  EXPECT_EQ(router.Login(Agent("a", {{"s", 3}}), T(0)).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(router.OfferAccepted("c", "b", T(0)).code(), absl::StatusCode::kFailedPrecondition);
  CallSpec chat = Call("c2", "q");
  chat.channel = Channel::kChat;
  EXPECT_EQ(router.Enqueue(chat, T(0)).status().code(), absl::StatusCode::kInvalidArgument);
  CallSpec many = Call("c3", "q");
  for (int i = 0; i < 40; ++i) many.attributes.emplace_back("k" + std::to_string(i), "v");
  EXPECT_EQ(router.Enqueue(many, T(0)).status().code(), absl::StatusCode::kInvalidArgument);
  CallSpec big = Call("c4", "q");
  big.attributes.emplace_back("notes", std::string(5000, 'x'));
  EXPECT_EQ(router.Enqueue(big, T(0)).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Wrap-up, and the members of a queue by state.

constexpr char kWrapUp[] = R"(
skills: [{name: sales}, {name: billing}]
queues:
  - {name: sales, skills: [{skill: sales, min_proficiency: 1}], wrap_up_seconds: 30}
  - {name: billing, skills: [{skill: billing, min_proficiency: 1}], wrap_up_seconds: 10}
)";

TEST(Router, WrapUpAfterOneQueueBlocksOffersFromEveryQueue) {
  Router router(PolicyFromYaml(kWrapUp), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"sales", 1}, {"billing", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("s1", "sales"), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("s1", "a", T(1)).ok());
  ASSERT_TRUE(router.EndCall("s1", T(100)).ok());
  EXPECT_EQ(router.FindAgent("a")->state, AgentState::kWrapUp);
  ASSERT_TRUE(router.Enqueue(Call("b1", "billing"), T(101)).ok());
  Routing(router);
  router.AdvanceTo(T(129.9));  // billing's own wrap-up (10 s) does not shorten sales' 30 s
  EXPECT_TRUE(Routing(router).empty());
  router.AdvanceTo(T(130));
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer b1 a"));
}

TEST(Router, EndingWrapUpEarlyMakesTheAgentAvailableAtOnce) {
  Router router(PolicyFromYaml(kWrapUp), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"sales", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("s1", "sales"), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("s1", "a", T(1)).ok());
  ASSERT_TRUE(router.EndCall("s1", T(10)).ok());
  ASSERT_TRUE(router.Enqueue(Call("s2", "sales"), T(11)).ok());
  Routing(router);
  ASSERT_TRUE(router.EndWrapUp("a", T(12)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer s2 a"));
  EXPECT_EQ(router.EndWrapUp("a", T(13)).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Router, QueueViewCountsWaitingCallsAndMembersByState) {
  Router router(PolicyFromYaml(kWrapUp), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"sales", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("b", {{"sales", 1}}, false), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(1)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c2", "sales"), T(2)).ok());
  absl::StatusOr<QueueView> view = router.Queue("sales");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->calls_waiting, 1);
  EXPECT_EQ(view->oldest_arrival, T(2));
  EXPECT_EQ(view->agents_by_state[static_cast<int>(AgentState::kReserved)], 1);
  EXPECT_EQ(view->agents_by_state[static_cast<int>(AgentState::kNotReady)], 1);
  EXPECT_EQ(router.Queue("nope").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace acd::routing
