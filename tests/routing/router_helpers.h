// Router test helpers: an agent and a call as the switch hands them over, the decisions made since
// the last look (every one as a line, or only the routing ones), and an agent kept busy.
//   Router router(PolicyFromYaml(kPolicy), T(0));
//   ASSERT_TRUE(router.Login(Agent("a", {{"s", 1}}), T(0)).ok());
//   ASSERT_TRUE(router.Enqueue(Call("c1", "q"), T(1)).ok());
//   EXPECT_THAT(Lines(Routing(router)), ElementsAre("offer c1 a"));
#ifndef ACD_TESTS_ROUTING_ROUTER_HELPERS_H_
#define ACD_TESTS_ROUTING_ROUTER_HELPERS_H_

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/router.h"
#include "tests/routing/decision_lines.h"
#include "tests/routing/test_policy.h"

namespace acd::routing::testing {

inline AgentSpec Agent(std::string id, std::vector<NamedSkill> skills, bool ready = true) {
  return AgentSpec{.agent_id = std::move(id), .skills = std::move(skills), .ready = ready};
}

inline CallSpec Call(std::string id, std::string queue, int priority = 0) {
  return CallSpec{.call_id = std::move(id), .queue = std::move(queue), .priority = priority};
}

// The routing decisions since the last call, without what callers hear (prompts have tests of
// their own in router_prompts_test.cc).
inline std::vector<Decision> Routing(Router& router) {
  std::vector<Decision> out = router.TakeDecisions();
  std::erase_if(out, [](const Decision& d) { return d.kind == Decision::Kind::kPlayPrompt; });
  return out;
}

// Every decision since the last call, prompts included, as lines.
inline std::vector<std::string> Take(Router& router) { return Lines(router.TakeDecisions()); }

// Agent `agent` (logged in at T(0)) serves one call of `talk` seconds in `queue`, which teaches the
// queue its handle time, then is busy with a second call ("h2") from T(talk) on. With nobody
// else, a caller at place n then expects n x talk.
inline void Occupy(Router& router, const std::string& queue, double talk,
                   const std::string& agent = "a") {
  ASSERT_TRUE(router.Login(Agent(agent, {{"s", 1}}), T(0)).ok());
  ASSERT_TRUE(router.Enqueue(Call("h1", queue), T(0)).ok());
  ASSERT_TRUE(router.OfferAccepted("h1", agent, T(0)).ok());
  ASSERT_TRUE(router.EndCall("h1", T(talk)).ok());
  ASSERT_TRUE(router.Enqueue(Call("h2", queue), T(talk)).ok());
  ASSERT_TRUE(router.OfferAccepted("h2", agent, T(talk)).ok());
  ASSERT_THAT(Take(router), ::testing::ElementsAre("offer h1 " + agent, "offer h2 " + agent));
}

}  // namespace acd::routing::testing

#endif  // ACD_TESTS_ROUTING_ROUTER_HELPERS_H_
