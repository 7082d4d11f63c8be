// Router: which agent takes which call, and the clock-driven rules around offers and queues.
#include "routing/router.h"

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/routing/decision_lines.h"
#include "tests/routing/test_policy.h"

namespace acd::routing {
namespace {

using ::acd::routing::testing::Lines;
using ::acd::routing::testing::PolicyFromYaml;
using ::acd::routing::testing::T;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Kind = Decision::Kind;

// The routing decisions since the last call, without what callers hear (prompts have tests of
// their own in router_caller_test.cc).
std::vector<Decision> Routing(Router& router) {
  std::vector<Decision> out = router.TakeDecisions();
  std::erase_if(out, [](const Decision& d) { return d.kind == Kind::kPlayPrompt; });
  return out;
}

AgentSpec Agent(std::string id, std::vector<NamedSkill> skills, bool ready = true) {
  return AgentSpec{.agent_id = std::move(id), .skills = std::move(skills), .ready = ready};
}

CallSpec Call(std::string id, std::string queue, int priority = 0) {
  return CallSpec{.call_id = std::move(id), .queue = std::move(queue), .priority = priority};
}

// One skill per queue, five queues, so one agent can serve all five.
constexpr char kFiveQueues[] = R"(
skills: [{name: s1}, {name: s2}, {name: s3}, {name: s4}, {name: s5}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - {name: q1, skills: [{skill: s1, min_proficiency: 1}], aging_per_second: 1}
  - {name: q2, skills: [{skill: s2, min_proficiency: 1}], aging_per_second: 1}
  - {name: q3, skills: [{skill: s3, min_proficiency: 1}], aging_per_second: 1}
  - {name: q4, skills: [{skill: s4, min_proficiency: 1}], aging_per_second: 1}
  - {name: q5, skills: [{skill: s5, min_proficiency: 1}], aging_per_second: 1}
)";

std::vector<NamedSkill> AllFive() { return {{"s1", 1}, {"s2", 1}, {"s3", 1}, {"s4", 1}, {"s5", 1}}; }

TEST(Router, OffersAnArrivingCallToAnEligibleReadyAgent) {
  Router router(PolicyFromYaml(kFiveQueues), T(0));
  ASSERT_TRUE(router.Login(Agent("a1", {{"s1", 3}}), T(0)).ok());
  absl::StatusOr<EnqueueResult> result = router.Enqueue(Call("c1", "q1"), T(1));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->disposition, EnqueueResult::Disposition::kOffered);
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 a1"));
  EXPECT_EQ(router.FindAgent("a1")->state, AgentState::kReserved);
}

TEST(Router, KeepsACallWaitingWhenNoAgentHasItsSkill) {
  Router router(PolicyFromYaml(kFiveQueues), T(0));
  ASSERT_TRUE(router.Login(Agent("a1", {{"s2", 3}}), T(0)).ok());
  absl::StatusOr<EnqueueResult> result = router.Enqueue(Call("c1", "q1"), T(1));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->disposition, EnqueueResult::Disposition::kQueued);
  EXPECT_EQ(result->position, 1);
  EXPECT_TRUE(Routing(router).empty());
}

TEST(Router, AnAgentInFiveQueuesTakesTheLongestWaitingCallOfAllFive) {
  Router router(PolicyFromYaml(kFiveQueues), T(0));
  // Calls arrive in q3, q1, q5, q2, q4 (in that order) while nobody is ready.
  const std::vector<std::pair<std::string, std::string>> arrivals = {
      {"c3", "q3"}, {"c1", "q1"}, {"c5", "q5"}, {"c2", "q2"}, {"c4", "q4"}};
  double t = 1;
  for (const auto& [call, queue] : arrivals) ASSERT_TRUE(router.Enqueue(Call(call, queue), T(t++)).ok());
  ASSERT_TRUE(router.Login(Agent("a1", AllFive(), /*ready=*/false), T(10)).ok());
  std::vector<std::string> served;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(router.SetReady("a1", T(20 + 10 * i)).ok());
    std::vector<Decision> d = Routing(router);
    ASSERT_EQ(d.size(), 1u);
    served.push_back(d[0].call_id);
    ASSERT_TRUE(router.OfferAccepted(d[0].call_id, "a1", T(21 + 10 * i)).ok());
    ASSERT_TRUE(router.SetNotReady("a1", "break", T(22 + 10 * i)).ok());
    ASSERT_TRUE(router.EndCall(d[0].call_id, T(23 + 10 * i)).ok());
  }
  EXPECT_THAT(served, ElementsAre("c3", "c1", "c5", "c2", "c4"));
}

TEST(Router, HigherPriorityBeatsWaitingTimeUntilAgingCatchesUp) {
  Router router(PolicyFromYaml(kFiveQueues), T(0));
  ASSERT_TRUE(router.Enqueue(Call("old", "q1", /*priority=*/0), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("urgent", "q2", /*priority=*/30), T(10)).ok());
  // At t=20: old scores 0+20 = 20, urgent 30+10 = 40.
  ASSERT_TRUE(router.Login(Agent("a1", AllFive()), T(20)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer urgent a1"));

  Router later(PolicyFromYaml(kFiveQueues), T(0));
  ASSERT_TRUE(later.Enqueue(Call("old", "q1", 0), T(0)).ok());
  ASSERT_TRUE(later.Enqueue(Call("urgent", "q2", 30), T(40)).ok());
  // At t=80: old scores 80, urgent 30+40 = 70: aging has caught up.
  ASSERT_TRUE(later.Login(Agent("a1", AllFive()), T(80)).ok());
  EXPECT_THAT(Lines(Routing(later)), ElementsAre("offer old a1"));
}

TEST(Router, EqualScoresGoToTheLongestWaiterThenFirstIn) {
  // Different priorities chosen so that both calls score exactly 30 when the agent frees.
  Router router(PolicyFromYaml(kFiveQueues), T(0));
  ASSERT_TRUE(router.Enqueue(Call("late", "q2", 20), T(10)).ok());
  ASSERT_TRUE(router.Enqueue(Call("early", "q1", 0), T(-10)).ok());  // clamped to t=10 too
  ASSERT_TRUE(router.Enqueue(Call("first", "q3", 10), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("a1", AllFive()), T(20)).ok());
  // Scores at t=20: late 20+10=30, early 0+10=10, first 10+10=20 (time never runs backwards).
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer late a1"));

  Router tie(PolicyFromYaml(kFiveQueues), T(0));
  ASSERT_TRUE(tie.Enqueue(Call("b", "q2", 0), T(0)).ok());
  ASSERT_TRUE(tie.Enqueue(Call("a", "q1", 10), T(10)).ok());
  ASSERT_TRUE(tie.Enqueue(Call("c", "q3", 10), T(10)).ok());
  // At t=10 all three score 10; b has waited longest.
  ASSERT_TRUE(tie.Login(Agent("a1", AllFive(), false), T(10)).ok());
  ASSERT_TRUE(tie.SetReady("a1", T(10)).ok());
  EXPECT_THAT(Lines(Routing(tie)), ElementsAre("offer b a1"));
}

TEST(Router, CallsOfEqualScoreAndArrivalAreServedFirstInFirstOut) {
  Router router(PolicyFromYaml(kFiveQueues), T(0));
  for (const char* id : {"x", "y", "z"}) ASSERT_TRUE(router.Enqueue(Call(id, "q1"), T(5)).ok());
  std::vector<std::string> order;
  ASSERT_TRUE(router.Login(Agent("a1", AllFive()), T(6)).ok());
  for (int i = 0; i < 3; ++i) {
    std::vector<Decision> d = Routing(router);
    ASSERT_EQ(d.size(), 1u);
    order.push_back(d[0].call_id);
    ASSERT_TRUE(router.OfferAccepted(d[0].call_id, "a1", T(7 + i)).ok());
    ASSERT_TRUE(router.EndCall(d[0].call_id, T(7 + i)).ok());
  }
  EXPECT_THAT(order, ElementsAre("x", "y", "z"));
}

constexpr char kStrategies[] = R"(
skills: [{name: s}]
random_seed: 7
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - {name: idle, skills: [{skill: s, min_proficiency: 1}], strategy: longest_idle}
  - {name: pro, skills: [{skill: s, min_proficiency: 1}], strategy: most_proficient}
  - {name: fewest, skills: [{skill: s, min_proficiency: 1}], strategy: fewest_calls}
  - {name: rr, skills: [{skill: s, min_proficiency: 1}], strategy: round_robin}
  - {name: rand, skills: [{skill: s, min_proficiency: 1}], strategy: random}
)";

// Serves one call of `queue` to whoever is chosen, ends it at once, and says who.
std::string ServeOne(Router& router, const std::string& queue, const std::string& call, double t) {
  EXPECT_TRUE(router.Enqueue(Call(call, queue), T(t)).ok());
  std::vector<Decision> d = Routing(router);
  if (d.size() != 1) return "none";
  EXPECT_TRUE(router.OfferAccepted(call, d[0].agent_id, T(t)).ok());
  EXPECT_TRUE(router.EndCall(call, T(t)).ok());
  return d[0].agent_id;
}

TEST(Router, LongestIdlePicksTheAgentIdleTheLongest) {
  Router router(PolicyFromYaml(kStrategies), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(3)).ok());
  ASSERT_TRUE(router.Login(Agent("b", {{"s", 1}}), T(1)).ok());  // clock stays at 3: ties by login
  ASSERT_TRUE(router.Login(Agent("c", {{"s", 1}}), T(5)).ok());
  EXPECT_EQ(ServeOne(router, "idle", "c1", 10), "a");  // a and b idle since 3, a logged in first
  EXPECT_EQ(ServeOne(router, "idle", "c2", 11), "b");
  EXPECT_EQ(ServeOne(router, "idle", "c3", 12), "c");
  EXPECT_EQ(ServeOne(router, "idle", "c4", 13), "a");  // a has been idle since 10
}

TEST(Router, MostProficientPicksTheBestSkilledThenLongestIdle) {
  Router router(PolicyFromYaml(kStrategies), T(0));
  ASSERT_TRUE(router.Login(Agent("novice", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("expert", {{"s", 5}}), T(1)).ok());
  ASSERT_TRUE(router.Login(Agent("expert2", {{"s", 5}}), T(2)).ok());
  EXPECT_EQ(ServeOne(router, "pro", "c1", 10), "expert");
  EXPECT_EQ(ServeOne(router, "pro", "c2", 11), "expert2");
  EXPECT_EQ(ServeOne(router, "pro", "c3", 12), "expert");
}

TEST(Router, FewestCallsPicksTheAgentWhoHandledLeast) {
  Router router(PolicyFromYaml(kStrategies), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  EXPECT_EQ(ServeOne(router, "fewest", "c1", 1), "a");
  EXPECT_EQ(ServeOne(router, "fewest", "c2", 2), "a");
  ASSERT_TRUE(router.Login(Agent("b", {{"s", 1}}), T(3)).ok());
  EXPECT_EQ(ServeOne(router, "fewest", "c3", 4), "b");  // a has idled longer but took two calls
  EXPECT_EQ(ServeOne(router, "fewest", "c4", 5), "b");
  EXPECT_EQ(ServeOne(router, "fewest", "c5", 6), "a");  // 2 each: a idle since 2, b since 5
}

TEST(Router, RoundRobinRotatesThroughAgentsInLoginOrder) {
  Router router(PolicyFromYaml(kStrategies), T(0));
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(router.Login(Agent(id, {{"s", 1}}), T(0)).ok());
  std::vector<std::string> chosen;
  for (int i = 0; i < 7; ++i) chosen.push_back(ServeOne(router, "rr", "c" + std::to_string(i), i));
  EXPECT_THAT(chosen, ElementsAre("a", "b", "c", "a", "b", "c", "a"));
}

TEST(Router, RandomIsReproducibleForTheSameSeedAndUsesEveryAgent) {
  auto run = [](std::string seed_line) {
    std::string yaml = kStrategies;
    yaml.replace(yaml.find("random_seed: 7"), 14, seed_line);
    Router router(PolicyFromYaml(yaml), T(0));
    for (const char* id : {"a", "b", "c", "d"}) EXPECT_TRUE(router.Login(Agent(id, {{"s", 1}}), T(0)).ok());
    std::vector<std::string> chosen;
    for (int i = 0; i < 400; ++i) chosen.push_back(ServeOne(router, "rand", "c" + std::to_string(i), i));
    return chosen;
  };
  std::vector<std::string> first = run("random_seed: 7");
  EXPECT_EQ(first, run("random_seed: 7"));
  EXPECT_NE(first, run("random_seed: 8"));
  std::map<std::string, int> counts;
  for (const std::string& a : first) counts[a]++;
  ASSERT_EQ(counts.size(), 4u);
  for (const auto& [agent, n] : counts) EXPECT_GT(n, 50) << agent;  // 100 expected each
}

constexpr char kEscalation[] = R"(
skills: [{name: sales}, {name: spanish_desk}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 4}]
    max_wait_seconds: 300
    fallback: "voicemail:sales"
    escalation:
      - {after_seconds: 30, relax_skill_floor: {to: 2}}
      - {after_seconds: 60, add_alternative_skills: {skills: [{skill: spanish_desk, min_proficiency: 1}]}}
      - {after_seconds: 90, raise_priority: {by: 500}}
      - {after_seconds: 120, overflow: {queue: overflow}}
  - name: overflow
    skills: [{skill: sales, min_proficiency: 1}]
    escalation:
      - {after_seconds: 60, fallback: {target: "voicemail:overflow"}}
  - name: other
    skills: [{skill: sales, min_proficiency: 1}]
)";

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

TEST(Router, AFullQueueSendsNewCallsToItsFallback) {
  Router router(PolicyFromYaml(R"(
skills: [{name: s}]
queues:
  - {name: q, skills: [{skill: s, min_proficiency: 1}], max_queue_length: 2, fallback: "email:q"}
)"), T(0));
  ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c2", "q"), T(0)).ok());
  absl::StatusOr<EnqueueResult> third = router.Enqueue(Call("c3", "q"), T(1));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->disposition, EnqueueResult::Disposition::kSentToFallback);
  EXPECT_EQ(third->fallback, "email:q");
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("fallback c3 email:q queue_full"));
  EXPECT_FALSE(router.FindCall("c3"));
  EXPECT_EQ(router.calls_waiting(), 2u);
}

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

constexpr char kChannels[] = R"(
skills: [{name: s}]
queues:
  - {name: voice, channel: voice, skills: [{skill: s, min_proficiency: 1}]}
  - {name: chat, channel: chat, skills: [{skill: s, min_proficiency: 1}]}
)";

AgentSpec Blended(std::string id, uint32_t chats) {
  AgentSpec spec = Agent(std::move(id), {{"s", 1}});
  spec.capacity = {{Channel::kVoice, 1}, {Channel::kChat, chats}};
  return spec;
}

TEST(Router, AChatAgentTakesChatsUpToCapacity) {
  Router router(PolicyFromYaml(kChannels), T(0));
  ASSERT_TRUE(router.Login(Blended("a", 3), T(0)).ok());
  for (int i = 1; i <= 4; ++i) {
    const std::string id = "chat" + std::to_string(i);
    ASSERT_TRUE(router.Enqueue(Call(id, "chat"), T(i)).ok());
    std::vector<Decision> d = Routing(router);
    if (i <= 3) {
      ASSERT_THAT(Lines(d), ElementsAre("offer " + id + " a"));
      ASSERT_TRUE(router.OfferAccepted(id, "a", T(i)).ok());
    } else {
      EXPECT_TRUE(d.empty()) << "a fourth chat exceeds capacity 3";
    }
  }
  EXPECT_EQ(router.FindAgent("a")->load[static_cast<int>(Channel::kChat)], 3u);
  ASSERT_TRUE(router.EndCall("chat2", T(10)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer chat4 a"));
}

TEST(Router, AVoiceCallBlocksOtherChannelsAndChatsBlockVoice) {
  Router router(PolicyFromYaml(kChannels), T(0));
  ASSERT_TRUE(router.Login(Blended("a", 3), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("v1", "voice"), T(1)).ok());
  ASSERT_TRUE(router.OfferAccepted("v1", "a", T(1)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "chat"), T(2)).ok());
  Routing(router);
  EXPECT_TRUE(Routing(router).empty());
  ASSERT_TRUE(router.EndCall("v1", T(3)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 a"));
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(4)).ok());
  ASSERT_TRUE(router.Enqueue(Call("v2", "voice"), T(5)).ok());
  EXPECT_TRUE(Routing(router).empty()) << "a voice call waits while the agent chats";
}

TEST(Router, PolicyMayLetVoiceAgentsTakeChatsToo) {
  std::string yaml = std::string(kChannels) + "agent_rules: {voice_allows_other_channels: true}\n";
  Router router(PolicyFromYaml(yaml), T(0));
  ASSERT_TRUE(router.Login(Blended("a", 2), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("v1", "voice"), T(1)).ok());
  ASSERT_TRUE(router.OfferAccepted("v1", "a", T(1)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "chat"), T(2)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer v1 a", "offer c1 a"));
}

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

TEST(Router, CallRequirementsForLanguageAndExtraSkillsAreHonoured) {
  Router router(PolicyFromYaml(R"(
skills: [{name: s}, {name: refunds}]
languages: [en, es]
queues: [{name: q, skills: [{skill: s, min_proficiency: 1}]}]
)"), T(0));
  AgentSpec english = Agent("en_agent", {{"s", 5}, {"refunds", 5}});
  english.languages = {"en"};
  AgentSpec spanish = Agent("es_agent", {{"s", 1}, {"refunds", 2}});
  spanish.languages = {"es", "en"};
  ASSERT_TRUE(router.Login(english, T(0)).ok());
  ASSERT_TRUE(router.Login(spanish, T(1)).ok());
  CallSpec call = Call("c1", "q");
  call.language = "es";
  ASSERT_TRUE(router.Enqueue(call, T(2)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 es_agent"));
  CallSpec refund = Call("c2", "q");
  refund.required_skills = {{"refunds", 3}};
  ASSERT_TRUE(router.Enqueue(refund, T(3)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c2 en_agent"));
}

constexpr char kTwoLanguages[] = R"(
skills: [{name: s}]
languages: [en, es]
queues: [{name: q, skills: [{skill: s, min_proficiency: 1}]}]
)";

CallSpec CallIn(std::string id, std::string language, int priority = 0) {
  CallSpec spec = Call(std::move(id), "q", priority);
  spec.language = std::move(language);
  return spec;
}

TEST(Router, AnAgentSkipsCallsInLanguagesItLacksAndTakesTheBestItCanServe) {
  Router router(PolicyFromYaml(kTwoLanguages), T(0));
  ASSERT_TRUE(router.Enqueue(CallIn("es1", "es"), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(CallIn("es2", "es"), T(1)).ok());
  ASSERT_TRUE(router.Enqueue(CallIn("en1", "en"), T(2)).ok());
  ASSERT_TRUE(router.Enqueue(Call("any", "q"), T(3)).ok());
  AgentSpec english = Agent("english", {{"s", 1}});
  english.languages = {"en"};
  ASSERT_TRUE(router.Login(english, T(4)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer en1 english"));
  AgentSpec both = Agent("both", {{"s", 1}});
  both.languages = {"en", "es"};
  ASSERT_TRUE(router.Login(both, T(5)).ok());
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer es1 both"));
}

TEST(Router, PositionsCountCallsOfEveryLanguage) {
  Router router(PolicyFromYaml(kTwoLanguages), T(0));
  ASSERT_TRUE(router.Enqueue(CallIn("es1", "es"), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(CallIn("en1", "en"), T(1)).ok());
  ASSERT_TRUE(router.Enqueue(Call("any", "q"), T(2)).ok());
  absl::StatusOr<EnqueueResult> urgent = router.Enqueue(CallIn("es2", "es", 100), T(3));
  ASSERT_TRUE(urgent.ok());
  EXPECT_EQ(urgent->position, 1);
  EXPECT_EQ(router.FindCall("es1")->position, 2);
  EXPECT_EQ(router.FindCall("en1")->position, 3);
  EXPECT_EQ(router.FindCall("any")->position, 4);
}

TEST(Router, TierBoostRaisesACallsPriority) {
  Router router(PolicyFromYaml(R"(
skills: [{name: s}]
tiers: [{name: key_account, priority_boost: 100}, {name: light, priority_boost: -10}]
queues: [{name: q, skills: [{skill: s, min_proficiency: 1}], priority: 50}]
)"), T(0));
  CallSpec light = Call("light", "q");
  light.tier = "light";
  CallSpec key = Call("key", "q");
  key.tier = "key_account";
  ASSERT_TRUE(router.Enqueue(light, T(0)).ok());
  ASSERT_TRUE(router.Enqueue(key, T(5)).ok());
  EXPECT_EQ(router.FindCall("light")->priority, 40);
  EXPECT_EQ(router.FindCall("key")->priority, 150);
  EXPECT_EQ(router.FindCall("key")->position, 1);
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

TEST(Router, TellsTheCallerWhenItNextNeedsWaking) {
  Router router(PolicyFromYaml(kEscalation), T(0));
  EXPECT_EQ(router.NextWakeup(), std::nullopt);
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(10)).ok());
  EXPECT_EQ(router.NextWakeup(), T(40));  // first step at 30 s
  ASSERT_TRUE(router.Abandon("c1", T(11)).ok());
  EXPECT_EQ(router.NextWakeup(), std::nullopt) << "cancelled timers do not wake anyone";
}

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

namespace acd::routing {
namespace {

// Regression tests from the review of the engine: one per defect, in the reviewer's sequence.

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

TEST(Router, ChatsSpreadOverAgentsBeforeTheyStack) {
  Router router(PolicyFromYaml(R"(
skills: [{name: s}]
queues: [{name: chat, channel: chat, skills: [{skill: s, min_proficiency: 1}], strategy: longest_idle}]
)"), T(0));
  AgentSpec a = Agent("a", {{"s", 1}});
  a.capacity = {{Channel::kChat, 3}};
  AgentSpec b = Agent("b", {{"s", 1}});
  b.capacity = {{Channel::kChat, 3}};
  ASSERT_TRUE(router.Login(a, T(0)).ok());
  ASSERT_TRUE(router.Login(b, T(1)).ok());
  std::vector<std::string> chosen;
  for (int i = 0; i < 4; ++i) {
    const std::string id = "chat" + std::to_string(i);
    ASSERT_TRUE(router.Enqueue(Call(id, "chat"), T(10 + i)).ok());
    std::vector<Decision> d = Routing(router);
    ASSERT_EQ(d.size(), 1u);
    chosen.push_back(d[0].agent_id);
    ASSERT_TRUE(router.OfferAccepted(id, d[0].agent_id, T(10 + i)).ok());
  }
  EXPECT_THAT(chosen, ElementsAre("a", "b", "a", "b"));
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

TEST(Router, AFullQueueStillGivesAFreeAgentTheCallItCanTake) {
  Router router(PolicyFromYaml(R"(
skills: [{name: s}]
languages: [en, es]
queues: [{name: q, skills: [{skill: s, min_proficiency: 1}], max_queue_length: 2, fallback: "vm"}]
)"), T(0));
  CallSpec es1 = Call("es1", "q");
  es1.language = "es";
  CallSpec es2 = Call("es2", "q");
  es2.language = "es";
  ASSERT_TRUE(router.Enqueue(es1, T(0)).ok());
  ASSERT_TRUE(router.Enqueue(es2, T(1)).ok());
  AgentSpec english = Agent("english", {{"s", 1}});
  english.languages = {"en"};
  ASSERT_TRUE(router.Login(english, T(2)).ok());
  CallSpec en = Call("en1", "q");
  en.language = "en";
  absl::StatusOr<EnqueueResult> result = router.Enqueue(en, T(3));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->disposition, EnqueueResult::Disposition::kOffered);
  EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer en1 english"));
}

}  // namespace
}  // namespace acd::routing

namespace acd::routing {
namespace {

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

}  // namespace
}  // namespace acd::routing

namespace acd::routing {
namespace {

constexpr char kOneQueue[] = R"(
skills: [{name: s}]
queues: [{name: q, skills: [{skill: s, min_proficiency: 1}], wrap_up_seconds: 0}]
)";

TEST(RouterExpectedWait, IsPositionTimesTheLearnedHandleTimeOverTheStaffedAgents) {
  Router router(PolicyFromYaml(kOneQueue), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Login(Agent("b", {{"s", 1}}), T(0)).ok());
  // Two calls of 60 s each teach the queue its handle time.
  for (const char* id : {"h1", "h2"}) ASSERT_TRUE(router.Enqueue(Call(id, "q"), T(0)).ok());
  for (const Decision& d : Routing(router)) ASSERT_TRUE(router.OfferAccepted(d.call_id, d.agent_id, T(0)).ok());
  ASSERT_TRUE(router.EndCall("h1", T(60)).ok());
  ASSERT_TRUE(router.EndCall("h2", T(60)).ok());
  // Both agents busy again, then four callers wait.
  for (const char* id : {"x1", "x2"}) ASSERT_TRUE(router.Enqueue(Call(id, "q"), T(61)).ok());
  for (const Decision& d : Routing(router)) ASSERT_TRUE(router.OfferAccepted(d.call_id, d.agent_id, T(61)).ok());
  std::vector<double> ewt;
  for (int i = 1; i <= 4; ++i) {
    absl::StatusOr<EnqueueResult> r = router.Enqueue(Call("w" + std::to_string(i), "q"), T(62));
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->expected_wait);
    ewt.push_back(absl::ToDoubleSeconds(*r->expected_wait));
  }
  EXPECT_THAT(ewt, ElementsAre(30, 60, 90, 120));
  EXPECT_EQ(absl::ToDoubleSeconds(*router.ExpectedWaitOf("w3")), 90);
  absl::StatusOr<QueueView> view = router.Queue("q");
  EXPECT_EQ(view->staffed_agents, 2);
  EXPECT_EQ(view->mean_handle_seconds, 60);
  EXPECT_EQ(absl::ToDoubleSeconds(*view->expected_wait_for_new_call), 150);
}

TEST(RouterExpectedWait, UsesTheHeadOfTheQueuesWaitBeforeAnyCallerWasServed) {
  Router router(PolicyFromYaml(R"(
skills: [{name: s}]
queues:
  - {name: q, skills: [{skill: s, min_proficiency: 1}]}
  - {name: other, skills: [{skill: s, min_proficiency: 1}]}
)"), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("busy", "other"), T(0)).ok());  // q has served nobody yet
  ASSERT_TRUE(router.OfferAccepted("busy", "a", T(0)).ok());
  absl::StatusOr<EnqueueResult> first = router.Enqueue(Call("c1", "q"), T(10));
  EXPECT_FALSE(first->expected_wait) << "alone and no history: unknown, not zero";
  absl::StatusOr<EnqueueResult> second = router.Enqueue(Call("c2", "q"), T(50));
  ASSERT_TRUE(second->expected_wait);
  EXPECT_EQ(absl::ToDoubleSeconds(*second->expected_wait), 40) << "c1 has waited 40 s so far";
}

TEST(RouterExpectedWait, UsesTheLastServedCallersWaitBeforeAnyCallHasEnded) {
  Router router(PolicyFromYaml(kOneQueue), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}, /*ready=*/false), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("first", "q"), T(0)).ok());
  ASSERT_TRUE(router.SetReady("a", T(25)).ok());
  ASSERT_TRUE(router.OfferAccepted("first", "a", T(26)).ok());  // waited 26 s
  absl::StatusOr<EnqueueResult> next = router.Enqueue(Call("c1", "q"), T(30));
  ASSERT_TRUE(next->expected_wait);
  EXPECT_EQ(absl::ToDoubleSeconds(*next->expected_wait), 26);
}

TEST(RouterExpectedWait, IsUnknownWhenNobodyStaffsTheQueue) {
  Router router(PolicyFromYaml(kOneQueue), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}, /*ready=*/false), T(0)).ok());
  absl::StatusOr<EnqueueResult> r = router.Enqueue(Call("c1", "q"), T(1));
  EXPECT_FALSE(r->expected_wait);
  EXPECT_EQ(router.Queue("q")->staffed_agents, 0);
}

}  // namespace
}  // namespace acd::routing

namespace acd::routing {
namespace {

// Regression tests from the review of transfers and wait estimates.

constexpr char kNoWrapUp[] = R"(
skills: [{name: sales}, {name: billing}]
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 4}]
    preferred_agent: {timeout_seconds: 60}
    escalation: [{after_seconds: 30, relax_skill_floor: {to: 1}}]
  - name: billing
    skills: [{skill: billing, min_proficiency: 1}]
    max_queue_length: 1
    fallback: "voicemail:billing"
  - {name: chat, channel: chat, skills: [{skill: sales, min_proficiency: 1}]}
)";

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

TEST(RouterExpectedWait, CountsEveryChatAnAgentCanHoldAndIsZeroWithAnAgentFree) {
  Router router(PolicyFromYaml(kNoWrapUp), T(0));
  AgentSpec a = Agent("a", {{"sales", 1}});
  a.capacity = {{Channel::kChat, 3}};
  ASSERT_TRUE(router.Login(a, T(0)).ok());
  EXPECT_EQ(router.Queue("chat")->expected_wait_for_new_call, absl::ZeroDuration());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(router.Enqueue(Call("h" + std::to_string(i), "chat"), T(0)).ok());
  for (const Decision& d : Routing(router)) ASSERT_TRUE(router.OfferAccepted(d.call_id, d.agent_id, T(0)).ok());
  for (const Decision& d : Routing(router)) ASSERT_TRUE(router.OfferAccepted(d.call_id, d.agent_id, T(0)).ok());
  for (const Decision& d : Routing(router)) ASSERT_TRUE(router.OfferAccepted(d.call_id, d.agent_id, T(0)).ok());
  ASSERT_TRUE(router.EndCall("h0", T(60)).ok());  // learns 60 s
  ASSERT_TRUE(router.Enqueue(Call("h3", "chat"), T(60)).ok());
  for (const Decision& d : Routing(router)) ASSERT_TRUE(router.OfferAccepted(d.call_id, d.agent_id, T(60)).ok());
  absl::StatusOr<EnqueueResult> waiting = router.Enqueue(Call("w1", "chat"), T(61));
  ASSERT_TRUE(waiting->expected_wait);
  EXPECT_EQ(absl::ToDoubleSeconds(*waiting->expected_wait), 20) << "60 s over three chats at once";
}

}  // namespace
}  // namespace acd::routing
