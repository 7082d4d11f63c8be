// ValidatePolicy: every problem an operator can write into a policy is reported at its field path
// with a message that says how to fix it, and CompilePolicy refuses a policy with any of them.
// This file checks whole policies, from the richest valid one to the shipped example; the checks
// of one kind of field are in policy_validator_{names,escalation,ranges}_test.cc.
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/compiled_policy.h"
#include "routing/policy_validator.h"
#include "routing/policy_yaml.h"
#include "tests/routing/policy_problems.h"
#include "tests/routing/test_policy.h"

namespace acd::routing {
namespace {

using ::acd::routing::testing::ProblemAt;
using ::acd::routing::testing::ProblemsOf;
using ::acd::routing::testing::ProtoFromYaml;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

// Every feature of the schema used at the edges of its allowed ranges.
constexpr char kRichPolicy[] = R"(
name: test-center
random_seed: 7
skills:
  - {name: sales, description: New orders}
  - {name: billing}
  - {name: tech_support}
  - {name: tech_tier2}
languages: [en, es, pt-br]
tiers:
  - {name: gold, priority_boost: 1000}
  - {name: standard, priority_boost: 0}
  - {name: light, priority_boost: -1000}
agent_rules:
  max_missed_offers: 0
  reject_delay_seconds: 0
  no_answer_delay_seconds: 3600
  voice_allows_other_channels: true
  max_capacity:
    - {channel: voice, max: 1}
    - {channel: chat, max: 4}
    - {channel: email, max: 100}
limits: {max_calls_waiting: 1, max_agents: 1000000, max_call_attributes: 1024,
         max_attribute_bytes: 16}
queues:
  - name: sales
    channel: voice
    skills: [{skill: sales, min_proficiency: 5}, {skill: billing, min_proficiency: 1}]
    strategy: most_proficient
    preferred_agent: {timeout_seconds: 3600}
    priority: 1000
    aging_per_second: 0
    wrap_up_seconds: 3600
    offer_timeout_seconds: 600
    max_wait_seconds: 600
    max_queue_length: 20
    fallback: "voicemail:sales"
    service_level: {threshold_seconds: 20, target_ratio: 0.8, alert_ratio: 0.8}
    alerts: {oldest_wait_seconds: 86400, calls_waiting: 5}
    escalation:
      - {after_seconds: 10, relax_skill_floor: {to: 1}}
      - {after_seconds: 20, add_alternative_skills: {skills: [{skill: tech_tier2, min_proficiency: 3}]}}
      - {after_seconds: 30, raise_priority: {by: -1000}}
      - {after_seconds: 40.5, raise_priority: {by: 1000}}
      - {after_seconds: 599, overflow: {queue: support}}
    prompts: {update_interval_seconds: 10, min_spacing_seconds: 10, ewt_rounding_seconds: 3600,
              ewt_cap_seconds: 86400}
    holds: {reminder_interval_seconds: 600, max_seconds: 86400}
    transfers: {max_per_call: 20, priority_boost: -1000}
    callbacks: {offer_when_ewt_over_seconds: 86400, max_attempts: 10, retry_interval_seconds: 10}
  - name: support
    skills: [{skill: tech_support, min_proficiency: 2}]
    strategy: round_robin
    offer_timeout_seconds: 1
    fallback: "voicemail:support"
    escalation:
      - {after_seconds: 60, overflow: {queue: general}}
  - name: general
    channel: voice
    max_wait_seconds: 604800
    fallback: "voicemail:general"
    escalation:
      - {after_seconds: 300, fallback: {}}
  - name: chat_support
    channel: chat
    skills: [{skill: tech_support, min_proficiency: 1}]
    max_queue_length: 50
    fallback: "email:support"
    escalation:
      - {after_seconds: 120, fallback: {target: "email:support-backlog"}}
  - name: email
    channel: email
    prompts: {update_interval_seconds: 0, min_spacing_seconds: 600}
    holds: {reminder_interval_seconds: 0}
    callbacks: {offer_when_ewt_over_seconds: 0, max_attempts: 0, retry_interval_seconds: 0}
)";

std::string ReadSourceFile(const std::string& relative_path) {
  std::ifstream in(std::string(ACD_SOURCE_DIR) + "/" + relative_path);
  EXPECT_TRUE(in.good()) << "cannot open " << relative_path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// --- Whole policies ---

TEST(PolicyValidator, RichPolicyAtTheEdgesOfEveryRangeHasNoProblems) {
  EXPECT_THAT(ProblemsOf(kRichPolicy), IsEmpty());
}

TEST(PolicyValidator, PolicyWithSeveralMistakesReportsEveryOneOfThem) {
  std::vector<PolicyProblem> problems = ProblemsOf(R"(
skills: [{name: sales}, {name: sales}]
queues:
  - name: sales
    skills: [{skill: slaes, min_proficiency: 9}]
    max_wait_seconds: 300
    escalation:
      - {after_seconds: 60, raise_priority: {by: 0}}
limits: {max_attribute_bytes: 8}
)");
  EXPECT_THAT(problems, SizeIs(6));
  EXPECT_THAT(problems,
              UnorderedElementsAre(
                  ProblemAt("skills[1].name", "skill 'sales' is defined twice"),
                  ProblemAt("queues[0].skills[0].skill", "unknown skill 'slaes'",
                            "did you mean 'sales'?"),
                  ProblemAt("queues[0].skills[0].min_proficiency", "from 1 to 5, not 9"),
                  ProblemAt("queues[0].fallback", "set fallback"),
                  ProblemAt("queues[0].escalation[0].raise_priority.by", "non-zero"),
                  ProblemAt("limits.max_attribute_bytes", "between 16 and 65536, not 8")));
}

TEST(PolicyValidator, PolicyWithoutQueuesIsReported) {
  EXPECT_THAT(ProblemsOf("skills: [{name: sales}]"),
              ElementsAre(ProblemAt("queues", "defines no queue", "add at least one")));
  EXPECT_THAT(ProblemsOf(""), ElementsAre(ProblemAt("queues", "defines no queue")));
}

TEST(PolicyValidator, MoreSkillsLanguagesOrQueuesThanTheLimitsAreReported) {
  acd::v1::Policy policy = ProtoFromYaml("queues: [{name: general}]");
  for (int i = 0; i <= kMaxSkills; ++i) policy.add_skills()->set_name(absl::StrCat("s", i));
  for (int i = 0; i <= kMaxLanguages; ++i) policy.add_languages(absl::StrCat("l", i));
  for (int i = 1; i <= kMaxQueues; ++i) policy.add_queues()->set_name(absl::StrCat("q", i));
  EXPECT_THAT(ValidatePolicy(policy),
              UnorderedElementsAre(ProblemAt("skills", "at most 1024 skills, not 1025"),
                                   ProblemAt("languages", "at most 64 languages, not 65"),
                                   ProblemAt("queues", "at most 4096 queues, not 4097")));
}

// --- Compiling and locating ---

TEST(CompilePolicy, InvalidPolicyIsRefusedWithEveryProblemListed) {
  const acd::v1::Policy policy = ProtoFromYaml(R"(
skills: [{name: sales}, {name: sales}]
queues:
  - name: sales
    skills: [{skill: slaes, min_proficiency: 9}]
    max_wait_seconds: 300
    escalation:
      - {after_seconds: 60, raise_priority: {by: 0}}
limits: {max_attribute_bytes: 8}
)");
  const std::vector<PolicyProblem> problems = ValidatePolicy(policy);
  ASSERT_THAT(problems, SizeIs(6));

  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> compiled = CompilePolicy(policy);
  ASSERT_FALSE(compiled.ok());
  EXPECT_EQ(compiled.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(compiled.status().message());
  EXPECT_THAT(message, HasSubstr("6 problems"));
  for (const PolicyProblem& p : problems) {
    EXPECT_THAT(message, HasSubstr(absl::StrCat(p.path, ": ", p.message)));
  }
}

TEST(ShippedPolicy, ExampleParsesValidatesAndCompilesIntoSixQueues) {
  const std::string text = ReadSourceFile("deploy/policy.example.yaml");
  ASSERT_FALSE(text.empty());
  acd::v1::Policy policy;
  std::vector<PolicyProblem> problems;
  ASSERT_TRUE(ParsePolicyYaml(text, &policy, &problems));
  EXPECT_THAT(problems, IsEmpty());
  EXPECT_THAT(ValidatePolicy(policy), IsEmpty());

  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> compiled = CompilePolicy(policy);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  ASSERT_THAT((*compiled)->queues, SizeIs(6));
  std::vector<std::string> names;
  for (const CompiledQueue& q : (*compiled)->queues) names.push_back(q.name);
  EXPECT_THAT(names, ElementsAre("vip", "sales", "support", "billing", "general", "chat_support"));
}

TEST(PolicySourceMap, ValidatorProblemsLandOnTheLineThatCausedThem) {
  // Line numbers below count from "skills:" as line 1.
  constexpr char kText[] = R"(skills:
  - name: sales
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 2}]
    escalation:
      - after_seconds: 60
        raise_priority: {by: 5}
      - after_seconds: 30
        raise_priority: {by: 5}
  - name: billing
    max_wait_seconds: 300
    skills: [{skill: biling, min_proficiency: 2}]
)";
  acd::v1::Policy policy;
  std::vector<PolicyProblem> parse_problems;
  PolicySourceMap where;
  ASSERT_TRUE(ParsePolicyYaml(kText, &policy, &parse_problems, &where));

  std::vector<PolicyProblem> problems = ValidatePolicy(policy);
  where.Annotate(&problems);
  EXPECT_THAT(
      problems,
      UnorderedElementsAre(
          // The field as written: its value's line.
          AllOf(ProblemAt("queues[0].escalation[1].after_seconds", "must be > step 1's (60)"),
                Field("line", &PolicyProblem::line, 9)),
          AllOf(ProblemAt("queues[1].skills[0].skill", "unknown skill 'biling'"),
                Field("line", &PolicyProblem::line, 13)),
          // The field left out of the file: the queue it belongs to.
          AllOf(ProblemAt("queues[1].fallback", "set fallback"),
                Field("line", &PolicyProblem::line, 11))));
}

}  // namespace
}  // namespace acd::routing
