// Router: what it reports about calls — the facts it keeps when asked (answers, abandons, talk and
// hold times, and how each call left), the wait it tells a caller offered at once, and the exact
// place of every caller in a line of twenty thousand.
#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
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
using ::acd::routing::testing::PolicyFromYaml;
using ::acd::routing::testing::Secs;
using ::acd::routing::testing::T;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;

// Facts as short lines that tests compare whole: "answered c1 sales 32s", "abandoned c1 sales
// 12s", "talk_ended c1 sales 60s", "hold_ended c1 sales 15s", "left c1 sales ended" (or
// abandoned, sent_to_fallback, callback_gave_up).
std::vector<std::string> FactLines(const std::vector<CallFact>& facts) {
  using Kind = CallFact::Kind;
  using Outcome = CallFact::Outcome;
  std::vector<std::string> out;
  for (const CallFact& f : facts) {
    if (f.kind == Kind::kLeft) {
      const char* outcome = f.outcome == Outcome::kEnded            ? "ended"
                            : f.outcome == Outcome::kAbandoned      ? "abandoned"
                            : f.outcome == Outcome::kSentToFallback ? "sent_to_fallback"
                                                                    : "callback_gave_up";
      out.push_back(absl::StrCat("left ", f.call_id, " ", f.queue, " ", outcome));
      continue;
    }
    const char* kind = f.kind == Kind::kAnswered    ? "answered"
                       : f.kind == Kind::kAbandoned ? "abandoned"
                       : f.kind == Kind::kTalkEnded ? "talk_ended"
                                                    : "hold_ended";
    out.push_back(absl::StrCat(kind, " ", f.call_id, " ", f.queue, " ", Secs(f.duration)));
  }
  return out;
}

// How the call stood when it left, from the last of `facts` (a kLeft).
CallView LastView(const std::vector<CallFact>& facts) {
  EXPECT_FALSE(facts.empty());
  if (facts.empty()) return {};
  EXPECT_EQ(facts.back().kind, CallFact::Kind::kLeft);
  EXPECT_TRUE(facts.back().last.has_value());
  return facts.back().last.value_or(CallView{});
}

constexpr char kFacts[] = R"(
skills: [{name: s}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: sales
    skills: [{skill: s, min_proficiency: 1}]
    max_wait_seconds: 300
    fallback: "vm:sales"
    transfers: {max_per_call: 1}
    callbacks: {offer_when_ewt_over_seconds: 60, max_attempts: 1, retry_interval_seconds: 60}
  - name: billing
    skills: [{skill: s, min_proficiency: 1}]
)";

// A router keeping facts, with agent "a" ready and connected with c1 of sales at T(0); the facts
// so far (c1 answered after 0 s) are taken.
void ConnectC1(Router& router) {
  router.KeepCallFacts(true);
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(0)).ok());
  ASSERT_THAT(FactLines(router.TakeCallFacts()), ElementsAre("answered c1 sales 0s"));
}

TEST(RouterFacts, AnAnsweredCallReportsItsWaitInItsQueue) {
  Router router(PolicyFromYaml(kFacts), T(0));
  router.KeepCallFacts(true);
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}, /*ready=*/false), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  ASSERT_TRUE(router.SetReady("a", T(30)).ok());
  EXPECT_THAT(router.TakeCallFacts(), IsEmpty()) << "a ringing call is not answered yet";
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(32)).ok());
  std::vector<CallFact> facts = router.TakeCallFacts();
  EXPECT_THAT(FactLines(facts), ElementsAre("answered c1 sales 32s"));
  ASSERT_EQ(facts.size(), 1u);
  EXPECT_EQ(facts[0].at, T(32));
}

TEST(RouterFacts, AnAbandonInLineReportsTheWaitThenTheCallLeaving) {
  Router router(PolicyFromYaml(kFacts), T(0));
  router.KeepCallFacts(true);
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  ASSERT_TRUE(router.Abandon("c1", T(12)).ok());
  std::vector<CallFact> facts = router.TakeCallFacts();
  EXPECT_THAT(FactLines(facts), ElementsAre("abandoned c1 sales 12s", "left c1 sales abandoned"));
  CallView last = LastView(facts);
  EXPECT_EQ(last.state, CallState::kWaiting);
  EXPECT_EQ(last.agent_id, "");
  EXPECT_EQ(last.arrived, T(0));
}

TEST(RouterFacts, AnEndedCallReportsItsTalkAndItsAgentHoldsAndHoldTime) {
  Router router(PolicyFromYaml(kFacts), T(0));
  ConnectC1(router);
  ASSERT_TRUE(router.StartHold("c1", absl::ZeroDuration(), T(10)).ok());
  ASSERT_TRUE(router.EndHold("c1", T(25)).ok());
  ASSERT_TRUE(router.StartHold("c1", absl::ZeroDuration(), T(40)).ok());
  ASSERT_TRUE(router.EndCall("c1", T(60)).ok());  // still on hold: the call's end ends the hold
  std::vector<CallFact> facts = router.TakeCallFacts();
  EXPECT_THAT(FactLines(facts), ElementsAre("hold_ended c1 sales 15s", "hold_ended c1 sales 20s",
                                            "left c1 sales ended", "talk_ended c1 sales 60s"));
  ASSERT_EQ(facts.size(), 4u);
  CallView last = *facts[2].last;
  EXPECT_EQ(last.state, CallState::kConnected);
  EXPECT_EQ(last.agent_id, "a");
  EXPECT_EQ(last.holds, 2u);
  EXPECT_EQ(last.hold_time, absl::Seconds(35));
  EXPECT_FALSE(last.on_hold);
}

TEST(RouterFacts, AHoldDuringAConsultEndsInTheFirstAgentsQueue) {
  Router router(PolicyFromYaml(kFacts), T(0));
  ConnectC1(router);
  ASSERT_TRUE(router.StartConsult("c1", "a", {.queue = "billing"}, T(10)).ok());
  ASSERT_TRUE(router.StartHold("c1", absl::ZeroDuration(), T(12)).ok());
  ASSERT_TRUE(router.EndHold("c1", T(20)).ok());
  EXPECT_EQ(router.FindCall("c1")->queue, "billing") << "the call waits in billing meanwhile";
  EXPECT_THAT(FactLines(router.TakeCallFacts()), ElementsAre("hold_ended c1 sales 8s"));
}

TEST(RouterFacts, ABlindTransferEndsTheFirstAgentsTalkAndTheCallGoesOn) {
  Router router(PolicyFromYaml(kFacts), T(0));
  ASSERT_TRUE(router.Login(Agent("b", {{"s", 1}}, /*ready=*/false), T(0)).ok());
  ConnectC1(router);
  ASSERT_TRUE(router.Transfer("c1", "a", {.queue = "billing"}, T(40)).ok());
  EXPECT_THAT(FactLines(router.TakeCallFacts()), ElementsAre("talk_ended c1 sales 40s"));
  ASSERT_TRUE(router.SetReady("b", T(45)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "b", T(50)).ok());
  EXPECT_THAT(FactLines(router.TakeCallFacts()), ElementsAre("answered c1 billing 10s"));
}

TEST(RouterFacts, ATransferOverTheLimitEndsTheTalkAndSendsTheCallToTheFallback) {
  Router router(PolicyFromYaml(kFacts), T(0));
  ConnectC1(router);
  ASSERT_TRUE(router.Login(Agent("b", {{"s", 1}}), T(1)).ok());
  ASSERT_TRUE(router.Transfer("c1", "a", {.queue = "sales"}, T(10)).ok());  // the one allowed
  ASSERT_TRUE(router.OfferAccepted("c1", "b", T(11)).ok());
  router.TakeCallFacts();
  absl::StatusOr<EnqueueResult> over = router.Transfer("c1", "b", {.queue = "sales"}, T(30));
  ASSERT_TRUE(over.ok()) << over.status();
  ASSERT_EQ(over->disposition, EnqueueResult::Disposition::kSentToFallback);
  std::vector<CallFact> facts = router.TakeCallFacts();
  EXPECT_THAT(FactLines(facts), ElementsAre("talk_ended c1 sales 19s",
                                            "left c1 sales sent_to_fallback"));
  ASSERT_EQ(facts.size(), 2u);
  EXPECT_EQ(facts[1].last->agent_id, "") << "the agent let go of it before it was sent on";
  EXPECT_EQ(facts[1].last->transfers, 1u);
}

TEST(RouterFacts, MaxWaitSendsTheCallToTheFallbackWithoutAnAbandon) {
  Router router(PolicyFromYaml(kFacts), T(0));
  router.KeepCallFacts(true);
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  router.AdvanceTo(T(299));
  EXPECT_THAT(router.TakeCallFacts(), IsEmpty());
  router.AdvanceTo(T(300));
  std::vector<CallFact> facts = router.TakeCallFacts();
  EXPECT_THAT(FactLines(facts), ElementsAre("left c1 sales sent_to_fallback"));
  EXPECT_EQ(LastView(facts).state, CallState::kWaiting);
}

TEST(RouterFacts, ACallbackGivenUpLeavesWithNoAgentOnTheLine) {
  Router router(PolicyFromYaml(kFacts), T(0));
  router.KeepCallFacts(true);
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}, /*ready=*/false), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  ASSERT_TRUE(router.AcceptCallback("c1", T(5)).ok());
  ASSERT_TRUE(router.SetReady("a", T(10)).ok());
  ASSERT_TRUE(router.OfferAccepted("c1", "a", T(10)).ok());  // a dials the customer
  ASSERT_TRUE(router.CallbackNotReached("c1", "a", T(20)).ok());  // max_attempts: 1
  std::vector<CallFact> facts = router.TakeCallFacts();
  EXPECT_THAT(FactLines(facts), ElementsAre("left c1 sales callback_gave_up"))
      << "a callback reaching out is no answer in line";
  CallView last = LastView(facts);
  EXPECT_EQ(last.agent_id, "");
  EXPECT_TRUE(last.callback);
  EXPECT_EQ(last.callback_attempts, 1);
}

TEST(RouterFacts, NothingIsKeptUnlessAsked) {
  Router router(PolicyFromYaml(kFacts), T(0));
  ASSERT_TRUE(router.Enqueue(Call("c1", "sales"), T(0)).ok());
  ASSERT_TRUE(router.Abandon("c1", T(5)).ok());
  EXPECT_THAT(router.TakeCallFacts(), IsEmpty()) << "off by default";
  router.KeepCallFacts(true);
  ASSERT_TRUE(router.Enqueue(Call("c2", "sales"), T(6)).ok());
  ASSERT_TRUE(router.Abandon("c2", T(8)).ok());
  EXPECT_THAT(FactLines(router.TakeCallFacts()),
              ElementsAre("abandoned c2 sales 2s", "left c2 sales abandoned"));
  router.KeepCallFacts(false);
  ASSERT_TRUE(router.Enqueue(Call("c3", "sales"), T(9)).ok());
  ASSERT_TRUE(router.Abandon("c3", T(10)).ok());
  EXPECT_THAT(router.TakeCallFacts(), IsEmpty()) << "off again";
}

TEST(RouterFacts, ACallOfferedAtOnceIsToldItWaitsForNobody) {
  Router router(PolicyFromYaml(kFacts), T(0));
  ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
  absl::StatusOr<EnqueueResult> result = router.Enqueue(Call("c1", "sales"), T(1));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->disposition, EnqueueResult::Disposition::kOffered);
  EXPECT_EQ(result->expected_wait, absl::ZeroDuration());
}

// ---------------------------------------------------------------------------------------------
// A long line.

// One queue where ten seconds of waiting are worth ten points of priority, and a caller with a
// preferred agent waits for them up to an hour. Updates come only after ten minutes, so a line
// filled in five minutes hears nothing but its greetings.
constexpr char kLongLine[] = R"(
skills: [{name: s}, {name: x}]
languages: [en, es]
queues:
  - name: q
    skills: [{skill: s, min_proficiency: 1}]
    aging_per_second: 10
    preferred_agent: {timeout_seconds: 3600}
    prompts: {update_interval_seconds: 600}
)";

constexpr int kLongLineCalls = 20000;

// A line of kLongLineCalls callers in English and Spanish at random priorities, two arriving every
// 1/32 s. Callers 7, 407, 807, ... prefer agent "p" and callers 207, 607, ... agent "p2"; both are
// logged in not ready. 120 helpers are ready but lack skill x, which every other caller needs, so
// the whole line waits. Returns the ids in the order the line must hold them, worked out here:
// score = priority - 10 x arrival, best first, then earlier arrival, then first enqueued.
std::vector<std::string> FillLongLine(Router& router, std::vector<std::string>* prefer_p,
                                      std::vector<std::string>* prefer_p2) {
  AgentSpec preferred = Agent("p", {{"s", 1}, {"x", 1}}, /*ready=*/false);
  preferred.languages = {"en", "es"};
  EXPECT_TRUE(router.Login(preferred, T(0)).ok());
  preferred.agent_id = "p2";
  EXPECT_TRUE(router.Login(preferred, T(0)).ok());
  for (int h = 0; h < 120; ++h) {
    AgentSpec helper = Agent(absl::StrCat("h", h), {{"s", 1}});
    helper.languages = {"en", "es"};
    EXPECT_TRUE(router.Login(helper, T(0)).ok());
  }
  std::mt19937_64 random(20000);
  // (-score x 32, arrival in 1/32 s, enqueue order, id): integers, so the sort is exact.
  std::vector<std::tuple<int64_t, int64_t, int, std::string>> order;
  for (int i = 0; i < kLongLineCalls; ++i) {
    const int64_t tick = i / 2;
    CallSpec call = Call(absl::StrCat("c", i), "q", static_cast<int>(random() % 21) * 50);
    call.language = random() % 2 == 0 ? "en" : "es";
    if (i % 400 == 7) {
      call.preferred_agent = "p";
      prefer_p->push_back(call.call_id);
    } else if (i % 400 == 207) {
      call.preferred_agent = "p2";
      prefer_p2->push_back(call.call_id);
    } else {
      call.required_skills = {{"x", 1}};
    }
    absl::StatusOr<EnqueueResult> result = router.Enqueue(call, T(tick / 32.0));
    EXPECT_TRUE(result.ok() && result->disposition == EnqueueResult::Disposition::kQueued)
        << call.call_id;
    order.emplace_back(-(32 * int64_t{call.priority} - 10 * tick), tick, i, call.call_id);
  }
  router.TakeDecisions();
  std::sort(order.begin(), order.end());
  std::vector<std::string> ids;
  for (const auto& entry : order) ids.push_back(std::get<3>(entry));
  return ids;
}

// FindCall puts the callers of `line` at places 1, 2, 3, ... in that order, and no one else waits.
void ExpectPlaces(const Router& router, const std::vector<std::string>& line) {
  ASSERT_EQ(router.Queue("q")->calls_waiting, static_cast<int>(line.size()));
  for (size_t i = 0; i < line.size(); ++i) {
    std::optional<CallView> call = router.FindCall(line[i]);
    ASSERT_TRUE(call) << line[i];
    ASSERT_EQ(call->position, static_cast<int>(i) + 1) << line[i];
  }
}

// The ids of the calls offered in `decisions`.
std::vector<std::string> Offered(const std::vector<Decision>& decisions) {
  std::vector<std::string> out;
  for (const Decision& d : decisions) {
    if (d.kind == Decision::Kind::kOfferCall) out.push_back(d.call_id);
  }
  return out;
}

TEST(RouterLongLine, EveryPlaceInALineOfTwentyThousandFollowsScoreArrivalAndOrder) {
  Router router(PolicyFromYaml(kLongLine), T(0));
  std::vector<std::string> prefer_p, prefer_p2;
  const std::vector<std::string> line = FillLongLine(router, &prefer_p, &prefer_p2);
  ASSERT_EQ(line.size(), static_cast<size_t>(kLongLineCalls));
  ExpectPlaces(router, line);
}

TEST(RouterLongLine, APreferredAgentWhoLogsOutLetsGoOfExactlyTheCallsThatWaitedForThem) {
  Router router(PolicyFromYaml(kLongLine), T(0));
  std::vector<std::string> prefer_p, prefer_p2;
  std::vector<std::string> line = FillLongLine(router, &prefer_p, &prefer_p2);
  ASSERT_EQ(prefer_p.size(), 50u);
  ASSERT_EQ(prefer_p2.size(), 50u);
  ASSERT_TRUE(router.Logout("p", T(400)).ok());
  EXPECT_THAT(Offered(router.TakeDecisions()), UnorderedElementsAreArray(prefer_p))
      << "free helpers take p's callers at once, and only them";
  for (const std::string& call : prefer_p2) {
    EXPECT_EQ(router.FindCall(call)->state, CallState::kWaiting) << call << " still waits for p2";
  }
  std::erase_if(line, [&](const std::string& call) {
    return std::find(prefer_p.begin(), prefer_p.end(), call) != prefer_p.end();
  });
  ExpectPlaces(router, line);
  ASSERT_TRUE(router.Logout("p2", T(401)).ok());
  EXPECT_THAT(Offered(router.TakeDecisions()), UnorderedElementsAreArray(prefer_p2));
}

}  // namespace
}  // namespace acd::routing
