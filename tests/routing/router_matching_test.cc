// Router: which agent takes which call — priority and aging, first in first out, the agent
// strategies, channels and capacity, languages, extra skills and tiers, and a full queue.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/router.h"
#include "tests/routing/decision_lines.h"
#include "tests/routing/router_helpers.h"
#include "tests/routing/test_policy.h"
#include <map>

namespace acd::routing {
namespace {

using ::acd::routing::testing::Agent;
using ::acd::routing::testing::Call;
using ::acd::routing::testing::Lines;
using ::acd::routing::testing::PolicyFromYaml;
using ::acd::routing::testing::Routing;
using ::acd::routing::testing::T;
using ::testing::ElementsAre;

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

// ---------------------------------------------------------------------------------------------
// Strategies: which of the free agents.

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

// ---------------------------------------------------------------------------------------------
// Channels and capacity.

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

// ---------------------------------------------------------------------------------------------
// Languages, extra skills and tiers.

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

// ---------------------------------------------------------------------------------------------
// A full queue.

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
