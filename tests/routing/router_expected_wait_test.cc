// Router: a caller's expected wait — position times the learned handle time over the calls the
// staffed agents hold at once, the delay history before that, and the patience learned from
// callers who leave; where agents serve several queues, the other queues' callers they take first.
// (How callers who give up shorten it: router_prompts_test.cc.)
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/router.h"
#include "tests/routing/router_helpers.h"
#include "tests/routing/router_policies.h"
#include "tests/routing/test_policy.h"

namespace acd::routing {
namespace {

using ::acd::routing::testing::Agent;
using ::acd::routing::testing::Call;
using ::acd::routing::testing::PolicyFromYaml;
using ::acd::routing::testing::Routing;
using ::acd::routing::testing::T;
using ::acd::routing::testing::kNoWrapUp;
using ::testing::ElementsAre;

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

// Two queues sharing an agent: x takes calls of both, y of `a` only. Equal priorities: a freed
// agent takes the longest-waiting caller among the queues it serves.
constexpr char kSharedAgent[] = R"(
skills: [{name: a}, {name: b}]
queues:
  - {name: a, skills: [{skill: a, min_proficiency: 1}], wrap_up_seconds: 0}
  - {name: b, skills: [{skill: b, min_proficiency: 1}], wrap_up_seconds: 0}
)";

// x and y each answer a 100 s call of their queues (x of b, y of a), then are busy again from
// T(101) on.
void StartSharedAgentCenter(Router& router) {
  EXPECT_TRUE(router.Login(Agent("x", {{"a", 1}, {"b", 1}}), T(0)).ok());
  EXPECT_TRUE(router.Login(Agent("y", {{"a", 1}}), T(0)).ok());
  EXPECT_TRUE(router.Enqueue(Call("b1", "b"), T(0)).ok());  // only x takes b
  EXPECT_TRUE(router.Enqueue(Call("a1", "a"), T(0)).ok());  // then y
  for (const Decision& d : Routing(router)) {
    EXPECT_TRUE(router.OfferAccepted(d.call_id, d.agent_id, T(0)).ok());
  }
  EXPECT_TRUE(router.EndCall("b1", T(100)).ok());
  EXPECT_TRUE(router.EndCall("a1", T(100)).ok());
  EXPECT_TRUE(router.Enqueue(Call("b2", "b"), T(101)).ok());
  EXPECT_TRUE(router.Enqueue(Call("a2", "a"), T(101)).ok());
  for (const Decision& d : Routing(router)) {
    EXPECT_TRUE(router.OfferAccepted(d.call_id, d.agent_id, T(101)).ok());
  }
  EXPECT_EQ(router.Queue("a")->agents_by_state[static_cast<int>(AgentState::kBusy)], 2);
}

TEST(RouterExpectedWaitSharedAgents,
     CountsTheOlderCallerOfAnotherQueueThatTheSharedAgentTakesFirst) {
  Router router(PolicyFromYaml(kSharedAgent), T(0));
  StartSharedAgentCenter(router);
  // b3 can only be taken by x: one free of x, 100 s.
  absl::StatusOr<EnqueueResult> b3 = router.Enqueue(Call("b3", "b"), T(102));
  ASSERT_TRUE(b3.ok() && b3->expected_wait);
  EXPECT_NEAR(absl::ToDoubleSeconds(*b3->expected_wait), 100, 1e-6);
  // a3 is first in line for a, but x takes b3 (older) if x frees first: the first free comes in
  // 50 s and is y's half the time; otherwise a3 waits for the next, 50 s more. Counting both
  // agents whole for queue a would say 50 s.
  absl::StatusOr<EnqueueResult> a3 = router.Enqueue(Call("a3", "a"), T(103));
  ASSERT_TRUE(a3.ok() && a3->expected_wait);
  EXPECT_NEAR(absl::ToDoubleSeconds(*a3->expected_wait), 75, 1e-6);
  EXPECT_NEAR(absl::ToDoubleSeconds(*router.ExpectedWaitOf("b3")), 100, 1e-6)
      << "a3 came later: it never goes before b3";
  // A new caller for a would wait behind a3 and b3: what the queue view says.
  ASSERT_TRUE(router.Queue("a")->expected_wait_for_new_call);
  EXPECT_GT(absl::ToDoubleSeconds(*router.Queue("a")->expected_wait_for_new_call), 75);
}

TEST(RouterExpectedWaitSharedAgents, IsQlmAgainWhenTheSharedAgentLogsOut) {
  Router router(PolicyFromYaml(kSharedAgent), T(0));
  StartSharedAgentCenter(router);
  ASSERT_TRUE(router.Enqueue(Call("b3", "b"), T(102)).ok());
  ASSERT_TRUE(router.SetNotReady("x", "break", T(103)).ok());
  // y alone serves a now, and serves nothing else: (0 ahead + 1) x 100 s.
  absl::StatusOr<EnqueueResult> a3 = router.Enqueue(Call("a3", "a"), T(104));
  ASSERT_TRUE(a3.ok() && a3->expected_wait);
  EXPECT_NEAR(absl::ToDoubleSeconds(*a3->expected_wait), 100, 1e-6);
  EXPECT_TRUE(router.CheckInvariants().ok());
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

}  // namespace
}  // namespace acd::routing
