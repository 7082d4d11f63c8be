// Scenario files: the shipped ones load and run; mistakes are reported with the key at fault.
#include "routing/sim/scenario.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/sim/simulator.h"

namespace acd::routing::sim {
namespace {

using ::testing::HasSubstr;

constexpr char kPolicy[] = R"(
policy: |
  skills: [{ name: s }]
  queues: [{ name: q, skills: [{ skill: s, min_proficiency: 1 }] }]
)";

std::string Message(const std::string& yaml) {
  absl::StatusOr<Scenario> s = ParseScenario(yaml, "bad.yaml");
  EXPECT_FALSE(s.ok());
  return std::string(s.status().message());
}

TEST(Scenario, ShippedScenariosLoadAndRun) {
  for (const char* name : {"mm100_rho95", "overload_abandon", "alternating_load"}) {
    absl::StatusOr<Scenario> s = LoadScenarioFile(
        std::string(ACD_SOURCE_DIR) + "/routing/sim/scenarios/" + name + ".yaml");
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->name, name);
    absl::StatusOr<SimReport> report = Simulate(*s, {.hours = 2});
    ASSERT_TRUE(report.ok()) << name << ": " << report.status();
    ASSERT_EQ(report->queues.size(), 1u);
    EXPECT_GT(report->queues[0].answered, 100u) << name;
  }
}

TEST(Scenario, AlternatingScheduleRepeats) {
  absl::StatusOr<Scenario> s = LoadScenarioFile(
      std::string(ACD_SOURCE_DIR) + "/routing/sim/scenarios/alternating_load.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->traffic[0].rates.size(), 2u);
  EXPECT_EQ(s->traffic[0].repeat_seconds, 1200);
  EXPECT_EQ(s->traffic[0].rates[1].from_seconds, 600);
}

TEST(Scenario, ErrorsNameTheFileAndTheKey) {
  const std::string base = std::string(kPolicy) + "hours: 1\n";
  const std::string agents = "agents: [{ name: a, count: 2, skills: [{ skill: s }] }]\n";
  EXPECT_THAT(Message(base + agents + "traffic: [{ queue: q, arrivals_per_hour: 10, "
                                      "handle_time: { distribution: exponential } }]\n"),
              HasSubstr("bad.yaml: traffic[0].handle_time.mean_seconds: is required"));
  EXPECT_THAT(Message(base + agents + "traffic: [{ queue: q, arrivals_per_hour: 10, "
                                      "handle_time: { distribution: gamma, mean_seconds: 5 } }]\n"),
              HasSubstr("traffic[0].handle_time.distribution: 'gamma'"));
  EXPECT_THAT(Message(base + agents + "traffic: [{ queue: q, arrival_per_hour: 10 }]\n"),
              HasSubstr("traffic[0].arrival_per_hour: unknown key"));
  EXPECT_THAT(Message(base + "traffic: [{ queue: q, arrivals_per_hour: 10, "
                             "handle_time: { mean_seconds: 5 } }]\n"
                             "agents: [{ name: a, count: many, skills: [{ skill: s }] }]\n"),
              HasSubstr("agents[0].count: line 7: expected an integer"));
  EXPECT_THAT(Message("policy_file: nowhere.yaml\nhours: 1\n"),
              HasSubstr("bad.yaml: policy_file: cannot read"));
}

TEST(Scenario, UnknownQueueIsReportedWhenSimulating) {
  absl::StatusOr<Scenario> s = ParseScenario(
      std::string(kPolicy) + "hours: 1\ntraffic: [{ queue: nope, arrivals_per_hour: 10, "
                             "handle_time: { mean_seconds: 5 } }]\n"
                             "agents: [{ name: a, count: 1, skills: [{ skill: s }] }]\n",
      "x.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  absl::StatusOr<SimReport> report = Simulate(*s);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("traffic[0].queue: 'nope'"));
}

}  // namespace
}  // namespace acd::routing::sim
