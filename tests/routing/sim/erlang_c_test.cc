// The simulator against queueing theory: M/M/N without abandonment must reproduce Erlang C's
// probability of waiting, average speed of answer and service level.
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "routing/sim/scenario.h"
#include "routing/sim/simulator.h"

namespace acd::routing::sim {
namespace {

// Erlang C: the probability that a caller waits in M/M/N with offered load a = lambda / mu.
double ErlangC(int n, double a) {
  double term = 1, sum = 0;  // a^k / k!, summed for k < n
  for (int k = 0; k < n; ++k) {
    sum += term;
    term *= a / (k + 1);
  }
  const double last = term * n / (n - a);  // a^n / n! x n / (n - a)
  return last / (sum + last);
}

constexpr int kAgents = 20;
constexpr double kTalkSeconds = 180;
constexpr double kLoad = 0.85;            // per agent
constexpr double kThresholdSeconds = 20;  // the policy's service-level threshold

std::string MmnScenario(double hours, uint64_t seed) {
  const double per_hour = kLoad * kAgents * 3600 / kTalkSeconds;  // 340 calls an hour
  return absl::StrCat(R"(
name: mm20_rho85
policy: |
  skills: [{ name: s }]
  queues:
    - name: q
      skills: [{ skill: s, min_proficiency: 1 }]
      wrap_up_seconds: 0
      service_level: { threshold_seconds: )", kThresholdSeconds, R"( }
hours: )", hours, R"(
warmup_hours: 2
seed: )", seed, R"(
traffic:
  - queue: q
    arrivals_per_hour: )", per_hour, R"(
    handle_time: { distribution: exponential, mean_seconds: )", kTalkSeconds, R"( }
agents:
  - { name: desk, count: )", kAgents, R"(, skills: [{ skill: s, proficiency: 1 }] }
)");
}

// Tolerances: 3,000 simulated hours are about a million callers, yet the realized load still
// wanders by ~0.1% from run to run and Erlang C at 85% is steep in it (a = 17.02 instead of 17
// gives C = 0.388, ASA 23.4 s). Over seeds 1-5 and 11 the simulator stayed within 0.009 of C and
// of SL(20 s) and within 4.2% of ASA; the bounds below leave a little room beyond that.
TEST(ErlangC, MmnWithoutAbandonmentMatchesTheory) {
  absl::StatusOr<Scenario> scenario = ParseScenario(MmnScenario(3000, 11), "mm20.yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  absl::StatusOr<SimReport> report = Simulate(*scenario);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->queues.size(), 1u);
  const QueueReport& q = report->queues[0];

  const double mu = 1 / kTalkSeconds, lambda = kLoad * kAgents * mu;
  const double c = ErlangC(kAgents, kLoad * kAgents);
  const double asa = c / (kAgents * mu - lambda);
  const double sl = 1 - c * std::exp(-(kAgents * mu - lambda) * kThresholdSeconds);
  // Sanity of the theory itself (N = 20, a = 17): C = 0.385, ASA = 23.1 s, SL(20 s) = 72.4%.
  EXPECT_NEAR(c, 0.3851, 1e-4);

  EXPECT_EQ(q.abandoned, 0u);
  EXPECT_NEAR(q.waited_ratio, c, 0.01) << "probability of waiting";
  EXPECT_NEAR(q.asa_seconds, asa, 0.06 * asa) << "average speed of answer";
  EXPECT_NEAR(q.service_level, sl, 0.01) << "answered within " << kThresholdSeconds << " s";
  EXPECT_NEAR(q.aht_seconds, kTalkSeconds, 0.01 * kTalkSeconds);
  EXPECT_NEAR(q.occupancy, kLoad, 0.01);
}

TEST(Simulator, SameSeedGivesTheSameReport) {
  absl::StatusOr<Scenario> scenario = ParseScenario(MmnScenario(50, 3), "mm20.yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  absl::StatusOr<SimReport> a = Simulate(*scenario);
  absl::StatusOr<SimReport> b = Simulate(*scenario);
  absl::StatusOr<SimReport> other = Simulate(*scenario, {.seed = 4});
  ASSERT_TRUE(a.ok() && b.ok() && other.ok());
  EXPECT_EQ(a->queues[0].offered, b->queues[0].offered);
  EXPECT_EQ(a->queues[0].asa_seconds, b->queues[0].asa_seconds);
  EXPECT_EQ(a->queues[0].ewt_rel_rmse, b->queues[0].ewt_rel_rmse);
  EXPECT_NE(a->queues[0].offered, other->queues[0].offered);
}

}  // namespace
}  // namespace acd::routing::sim
