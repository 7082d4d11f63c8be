// OracleWait: Monte Carlo runs that land on waits worked by hand (M/M/s, a shared agent, a caller
// whose own patience may run out), and agents that never take callers they cannot serve.
#include "routing/sim/oracle.h"

#include <random>

#include "gtest/gtest.h"

namespace acd::routing::sim {
namespace {

constexpr int kRuns = 40000;
const Distribution kTalk100{.kind = Distribution::Kind::kExponential, .mean_seconds = 100};

OracleAgent Busy(std::vector<QueueId> queues) {
  return {.queues = std::move(queues), .talk = &kTalk100, .talk_so_far = 30};
}

OracleCaller Waiting(QueueId queue, uint64_t order, double waited = 0) {
  return {.queue = queue, .waited = waited, .order = order, .talk = &kTalk100};
}

TEST(OracleWait, IsErlangOnOneQueueWithBusyAgents) {
  // 4 busy agents, 3 callers ahead: 4 frees of 4 x 1/100 per second.
  OracleInput input;
  for (int a = 0; a < 4; ++a) input.agents.push_back(Busy({0}));
  for (uint64_t c = 1; c <= 3; ++c) input.ahead.push_back(Waiting(0, c, 10));
  input.caller = Waiting(0, 9);
  std::mt19937_64 random(1);
  EXPECT_NEAR(*OracleWait(input, kRuns, random), 4 * 100.0 / 4, 3.0);
}

TEST(OracleWait, LetsTheSharedAgentTakeTheOlderCallerOfItsOtherQueueFirst) {
  // x serves queues 0 and 1, y queue 0; an older caller waits in 1 and ours in 0 (the case of
  // RouterExpectedWaitSharedAgents): 50 s, and half the time 50 s more.
  OracleInput input{.agents = {Busy({0, 1}), Busy({0})}, .ahead = {Waiting(1, 1, 5)}};
  input.caller = Waiting(0, 2);
  std::mt19937_64 random(2);
  EXPECT_NEAR(*OracleWait(input, kRuns, random), 75, 2.0);
}

TEST(OracleWait, IsTheWaitOfCallersWhoAreAnswered) {
  // One busy agent (100 s talk on average), a caller who hangs up after 100 s on average:
  // answered callers waited 1 / (1/100 + 1/100) = 50 s.
  const Distribution patience{.kind = Distribution::Kind::kExponential, .mean_seconds = 100};
  OracleInput input{.agents = {Busy({0})}};
  input.caller = Waiting(0, 1);
  input.caller.patience = &patience;
  std::mt19937_64 random(3);
  EXPECT_NEAR(*OracleWait(input, kRuns, random), 50, 1.5);
}

TEST(OracleWait, NeverOffersACallerToAnAgentWhoCannotServeThem) {
  OracleInput input{.agents = {Busy({1})}};
  input.caller = Waiting(0, 1);
  std::mt19937_64 random(4);
  EXPECT_FALSE(OracleWait(input, 100, random)) << "nobody serves queue 0";
  input.agents = {Busy({0})};
  input.caller.language = 1;  // needs the policy's language 1, which the agent does not speak
  EXPECT_FALSE(OracleWait(input, 100, random));
  input.agents[0].languages = uint64_t{1} << 1;
  EXPECT_NEAR(*OracleWait(input, kRuns, random), 100, 3.0);
}

}  // namespace
}  // namespace acd::routing::sim
