// ValidatePolicy on numbers: every queue, service level, prompt, hold, transfer and callback
// setting, agent rule and limit outside its range is reported with the range and the value.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/policy_validator.h"
#include "tests/routing/policy_problems.h"
#include "tests/routing/test_policy.h"

namespace acd::routing {
namespace {

using ::acd::routing::testing::ProblemAt;
using ::acd::routing::testing::ProblemsWithSkills;
using ::acd::routing::testing::ProtoFromYaml;
using ::acd::routing::testing::kSkills;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

// --- Numeric settings ---

TEST(PolicyValidator, QueueSettingsOutsideTheirRangesAreEachReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    preferred_agent: {timeout_seconds: 3601}
    priority: 1001
    aging_per_second: -1
    wrap_up_seconds: -5
    offer_timeout_seconds: 0.5
    max_wait_seconds: 604801
    fallback: "voicemail:sales"
    alerts: {oldest_wait_seconds: 86401}
  - name: billing
    priority: -1
    aging_per_second: 1001
    offer_timeout_seconds: 601
)"),
              UnorderedElementsAre(
                  ProblemAt("queues[0].preferred_agent.timeout_seconds",
                            "between 0 and 3600, not 3601"),
                  ProblemAt("queues[0].priority", "between 0 and 1000, not 1001"),
                  ProblemAt("queues[0].aging_per_second", "between 0 and 1000, not -1"),
                  ProblemAt("queues[0].wrap_up_seconds", "between 0 and 3600, not -5"),
                  ProblemAt("queues[0].offer_timeout_seconds", "between 1 and 600, not 0.5",
                            "0 means the default of 20"),
                  ProblemAt("queues[0].max_wait_seconds", "between 0 and 604800, not 604801"),
                  ProblemAt("queues[0].alerts.oldest_wait_seconds",
                            "between 0 and 86400, not 86401"),
                  ProblemAt("queues[1].priority", "between 0 and 1000, not -1"),
                  ProblemAt("queues[1].aging_per_second", "between 0 and 1000, not 1001"),
                  ProblemAt("queues[1].offer_timeout_seconds", "between 1 and 600, not 601")));
}

TEST(PolicyValidator, ServiceLevelOutsideItsRangesIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    service_level: {threshold_seconds: -1, target_ratio: 1.5, alert_ratio: -0.1}
  - name: billing
    service_level: {threshold_seconds: 86401, target_ratio: -0.5, alert_ratio: 1.2}
)"),
              UnorderedElementsAre(
                  ProblemAt("queues[0].service_level.threshold_seconds",
                            "between 0 and 86400, not -1"),
                  ProblemAt("queues[0].service_level.target_ratio", "between 0 and 1, not 1.5"),
                  ProblemAt("queues[0].service_level.alert_ratio", "between 0 and 1, not -0.1"),
                  ProblemAt("queues[1].service_level.threshold_seconds",
                            "between 0 and 86400, not 86401"),
                  ProblemAt("queues[1].service_level.target_ratio", "between 0 and 1, not -0.5"),
                  ProblemAt("queues[1].service_level.alert_ratio", "between 0 and 1, not 1.2")));
}

TEST(PolicyValidator, ServiceLevelAlertAboveTheTargetIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    service_level: {target_ratio: 0.8, alert_ratio: 0.9}
)"),
              ElementsAre(ProblemAt("queues[0].service_level.alert_ratio",
                                    "queue 'sales': the alert value (0.9) must not be above the "
                                    "target (0.8)")));
}

TEST(PolicyValidator, PromptSettingsOutsideTheirRangesAreReported) {
  EXPECT_THAT(
      ProblemsWithSkills(R"(
queues:
  - name: sales
    prompts: {update_interval_seconds: 601, min_spacing_seconds: -1, ewt_rounding_seconds: 3601,
              ewt_cap_seconds: 86401}
  - name: billing
    prompts: {update_interval_seconds: 5, min_spacing_seconds: 601}
)"),
      UnorderedElementsAre(
          ProblemAt("queues[0].prompts.update_interval_seconds", "between 10 and 600, not 601",
                    "callers expect an update every 30-60 s"),
          ProblemAt("queues[0].prompts.min_spacing_seconds", "between 0 and 600, not -1"),
          ProblemAt("queues[0].prompts.ewt_rounding_seconds", "between 0 and 3600, not 3601"),
          ProblemAt("queues[0].prompts.ewt_cap_seconds", "between 0 and 86400, not 86401"),
          ProblemAt("queues[1].prompts.update_interval_seconds", "between 10 and 600, not 5"),
          ProblemAt("queues[1].prompts.min_spacing_seconds", "between 0 and 600, not 601"),
          ProblemAt("queues[1].prompts.min_spacing_seconds",
                    "min_spacing_seconds (601) exceeds update_interval_seconds (5)")));
}

TEST(PolicyValidator, PromptSpacingWiderThanTheUpdateIntervalIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    prompts: {update_interval_seconds: 30, min_spacing_seconds: 45}
)"),
              ElementsAre(ProblemAt("queues[0].prompts.min_spacing_seconds",
                                    "queue 'sales': min_spacing_seconds (45) exceeds "
                                    "update_interval_seconds (30)")));
}

TEST(PolicyValidator, HoldSettingsOutsideTheirRangesAreReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    holds: {reminder_interval_seconds: 5, max_seconds: -1}
  - name: billing
    holds: {reminder_interval_seconds: 601, max_seconds: 86401}
)"),
              UnorderedElementsAre(
                  ProblemAt("queues[0].holds.reminder_interval_seconds",
                            "between 10 and 600, not 5", "callers on hold expect an update"),
                  ProblemAt("queues[0].holds.max_seconds", "between 0 and 86400, not -1"),
                  ProblemAt("queues[1].holds.reminder_interval_seconds",
                            "between 10 and 600, not 601"),
                  ProblemAt("queues[1].holds.max_seconds", "between 0 and 86400, not 86401")));
}

TEST(PolicyValidator, TransferSettingsOutsideTheirRangesAreReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    transfers: {max_per_call: 21, priority_boost: 1001}
  - name: billing
    transfers: {priority_boost: -1001}
)"),
              UnorderedElementsAre(
                  ProblemAt("queues[0].transfers.max_per_call", "between 0 and 20, not 21"),
                  ProblemAt("queues[0].transfers.priority_boost",
                            "between -1000 and 1000, not 1001"),
                  ProblemAt("queues[1].transfers.priority_boost",
                            "between -1000 and 1000, not -1001")));
}

TEST(PolicyValidator, CallbackSettingsOutsideTheirRangesAreReportedOnlyWhenCallbacksAreOn) {
  EXPECT_THAT(
      ProblemsWithSkills(R"(
queues:
  - name: sales
    callbacks: {offer_when_ewt_over_seconds: 300, max_attempts: 0, retry_interval_seconds: 5}
  - name: billing
    callbacks: {offer_when_ewt_over_seconds: 86401, max_attempts: 11, retry_interval_seconds: 86401}
  - name: support
    callbacks: {offer_when_ewt_over_seconds: 0, max_attempts: 99, retry_interval_seconds: 1}
)"),
      UnorderedElementsAre(
          ProblemAt("queues[0].callbacks.max_attempts", "between 1 and 10, not 0"),
          ProblemAt("queues[0].callbacks.retry_interval_seconds", "between 10 and 86400, not 5"),
          ProblemAt("queues[1].callbacks.offer_when_ewt_over_seconds",
                    "between 0 and 86400, not 86401"),
          ProblemAt("queues[1].callbacks.max_attempts", "between 1 and 10, not 11"),
          ProblemAt("queues[1].callbacks.retry_interval_seconds",
                    "between 10 and 86400, not 86401")));
}

// --- Agent rules and limits ---

TEST(PolicyValidator, CapacityWithoutChannelIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
agent_rules:
  max_capacity: [{max: 2}]
queues: [{name: general}]
)"),
              ElementsAre(ProblemAt("agent_rules.max_capacity[0].channel",
                                    "name the channel (voice, chat, email, sms, social, video)")));
}

// Through the gRPC admin API a policy arrives as a proto, where an enum may hold any number.
TEST(PolicyValidator, EnumNumbersOutsideTheSchemaAreReported) {
  acd::v1::Policy policy = ProtoFromYaml(std::string(kSkills) + "queues: [{name: general}]\n");
  policy.mutable_queues(0)->set_channel(static_cast<acd::v1::Channel>(42));
  policy.mutable_queues(0)->set_strategy(static_cast<acd::v1::Strategy>(9));
  auto* capacity = policy.mutable_agent_rules()->add_max_capacity();
  capacity->set_channel(static_cast<acd::v1::Channel>(17));
  capacity->set_max(2);
  EXPECT_THAT(ValidatePolicy(policy),
              UnorderedElementsAre(ProblemAt("queues[0].channel", "unknown channel number 42"),
                                   ProblemAt("queues[0].strategy", "unknown strategy number 9"),
                                   ProblemAt("agent_rules.max_capacity[0].channel",
                                             "name the channel")));
}

TEST(PolicyValidator, CapacitySetTwiceForOneChannelIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
agent_rules:
  max_capacity: [{channel: voice, max: 1}, {channel: chat, max: 3}, {channel: voice, max: 2}]
queues: [{name: general}]
)"),
              ElementsAre(ProblemAt("agent_rules.max_capacity[2].channel",
                                    "this channel's capacity is set twice; keep one")));
}

TEST(PolicyValidator, CapacityOutsideOneToHundredIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
agent_rules:
  max_capacity: [{channel: voice, max: 0}, {channel: chat, max: 101}, {channel: email, max: 100}]
queues: [{name: general}]
)"),
              ElementsAre(ProblemAt("agent_rules.max_capacity[0].max", "between 1 and 100, not 0"),
                          ProblemAt("agent_rules.max_capacity[1].max",
                                    "between 1 and 100, not 101")));
}

TEST(PolicyValidator, AgentDelaysAndMissedOfferLimitOutsideTheirRangesAreReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
agent_rules: {max_missed_offers: 101, reject_delay_seconds: -1, no_answer_delay_seconds: 3601}
queues: [{name: general}]
)"),
              ElementsAre(ProblemAt("agent_rules.max_missed_offers", "between 0 and 100, not 101"),
                          ProblemAt("agent_rules.reject_delay_seconds",
                                    "between 0 and 3600, not -1"),
                          ProblemAt("agent_rules.no_answer_delay_seconds",
                                    "between 0 and 3600, not 3601")));
}

// Large limits are printed as written: "1e+07, not 1e+07" would tell the operator nothing.
TEST(PolicyValidator, LimitsOutsideTheirRangesAreReportedWithExactNumbers) {
  EXPECT_THAT(ProblemsWithSkills(R"(
limits: {max_calls_waiting: 10000001, max_agents: 1000001, max_call_attributes: 1025,
         max_attribute_bytes: 15}
queues: [{name: general}]
)"),
              ElementsAre(ProblemAt("limits.max_calls_waiting",
                                    "between 1 and 10000000, not 10000001"),
                          ProblemAt("limits.max_agents", "between 1 and 1000000, not 1000001"),
                          ProblemAt("limits.max_call_attributes", "between 1 and 1024, not 1025"),
                          ProblemAt("limits.max_attribute_bytes",
                                    "between 16 and 65536, not 15")));
}

}  // namespace
}  // namespace acd::routing
