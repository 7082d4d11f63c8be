// ValidatePolicy: every problem an operator can write into a policy is reported at its field path
// with a message that says how to fix it, and CompilePolicy refuses a policy with any of them.
#include "routing/policy_validator.h"

#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/compiled_policy.h"
#include "routing/policy_yaml.h"
#include "tests/routing/test_policy.h"

namespace acd::routing {

// Failures print the problem the way an operator would read it.
void PrintTo(const PolicyProblem& problem, std::ostream* os) {
  *os << problem.line << ":" << problem.column << ": " << problem.path << ": " << problem.message;
}

namespace {

using ::acd::routing::testing::ProtoFromYaml;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

// A problem at exactly `path` whose message contains every one of `parts`.
template <typename... Parts>
::testing::Matcher<const PolicyProblem&> ProblemAt(const std::string& path, const Parts&... parts) {
  return AllOf(Field("path", &PolicyProblem::path, path),
               Field("message", &PolicyProblem::message, AllOf(HasSubstr(std::string(parts))...)));
}

std::vector<PolicyProblem> ProblemsOf(const std::string& yaml) {
  return ValidatePolicy(ProtoFromYaml(yaml));
}

// The skills most tests' queues are built on; append `queues:` and whatever else a test needs.
constexpr char kSkills[] = R"(
skills: [{name: sales}, {name: billing}, {name: tech_support}]
languages: [en, es]
)";

std::vector<PolicyProblem> ProblemsWithSkills(const std::string& yaml) {
  return ProblemsOf(kSkills + yaml);
}

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

// --- Names ---

TEST(PolicyValidator, SkillWithoutNameIsReported) {
  EXPECT_THAT(ProblemsOf(R"(
skills: [{name: sales}, {description: "nobody named me"}]
queues: [{name: general}]
)"),
              ElementsAre(ProblemAt("skills[1].name", "every skill needs a name")));
}

TEST(PolicyValidator, SkillNameWithCapitalsOrSpacesIsReported) {
  EXPECT_THAT(ProblemsOf(R"(
skills: [{name: "Sales Team"}]
queues: [{name: general}]
)"),
              ElementsAre(ProblemAt("skills[0].name", "skill name 'Sales Team' may only use a-z",
                                    "'_', '-' and '.'")));
}

TEST(PolicyValidator, SkillNameLongerThan64CharactersIsReported) {
  const std::string ok(64, 'a');
  const std::string too_long(65, 'b');
  EXPECT_THAT(ProblemsOf(absl::StrCat("skills: [{name: ", ok, "}, {name: ", too_long,
                                      "}]\nqueues: [{name: general}]\n")),
              ElementsAre(ProblemAt("skills[1].name", too_long, "at most 64")));
}

TEST(PolicyValidator, SkillDefinedTwiceIsReportedAtTheSecondDefinition) {
  EXPECT_THAT(ProblemsOf(R"(
skills: [{name: sales}, {name: billing}, {name: sales}]
queues: [{name: general}]
)"),
              ElementsAre(ProblemAt("skills[2].name", "skill 'sales' is defined twice",
                                    "remove one")));
}

TEST(PolicyValidator, EmptyBadAndRepeatedLanguagesAreReported) {
  EXPECT_THAT(ProblemsOf(R"(
languages: [en, "", EN, es, en]
queues: [{name: general}]
)"),
              ElementsAre(ProblemAt("languages[1]", "every language needs a name"),
                          ProblemAt("languages[2]", "language name 'EN' may only use a-z"),
                          ProblemAt("languages[4]", "language 'en' is listed twice")));
}

TEST(PolicyValidator, EmptyBadAndRepeatedTierNamesAndOutOfRangeBoostsAreReported) {
  EXPECT_THAT(ProblemsOf(R"(
tiers:
  - {name: "", priority_boost: 5}
  - {name: Gold}
  - {name: silver, priority_boost: 10}
  - {name: silver, priority_boost: 20}
  - {name: bronze, priority_boost: -1001}
queues: [{name: general}]
)"),
              ElementsAre(ProblemAt("tiers[0].name", "every tier needs a name"),
                          ProblemAt("tiers[1].name", "tier name 'Gold' may only use a-z"),
                          ProblemAt("tiers[3].name", "tier 'silver' is defined twice"),
                          ProblemAt("tiers[4].priority_boost",
                                    "between -1000 and 1000, not -1001")));
}

TEST(PolicyValidator, EmptyBadAndRepeatedQueueNamesAreReported) {
  EXPECT_THAT(ProblemsOf(R"(
queues: [{name: sales}, {name: ""}, {name: "Sales!"}, {name: sales}]
)"),
              ElementsAre(ProblemAt("queues[1].name", "every queue needs a name"),
                          ProblemAt("queues[2].name", "queue name 'Sales!' may only use a-z"),
                          ProblemAt("queues[3].name", "queue 'sales' is defined twice",
                                    "rename or remove one")));
}

// --- Skill requirements ---

TEST(PolicyValidator, MisspelledSkillSuggestsTheClosestKnownSkill) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - {name: sales, skills: [{skill: slaes, min_proficiency: 2}]}
)"),
              ElementsAre(ProblemAt("queues[0].skills[0].skill",
                                    "queue 'sales': unknown skill 'slaes'; did you mean 'sales'?",
                                    "(or add it under skills:)")));
}

TEST(PolicyValidator, UnknownSkillUnlikeAnyOtherListsTheKnownSkills) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - {name: sales, skills: [{skill: knowledge_base, min_proficiency: 2}]}
)"),
              ElementsAre(ProblemAt("queues[0].skills[0].skill", "unknown skill 'knowledge_base'",
                                    "known skills: sales, billing, tech_support")));
}

TEST(PolicyValidator, SkillRequiredWhenThePolicyDefinesNoSkillsSaysSo) {
  EXPECT_THAT(ProblemsOf(R"(
queues:
  - {name: sales, skills: [{skill: sales, min_proficiency: 2}]}
)"),
              ElementsAre(ProblemAt("queues[0].skills[0].skill", "unknown skill 'sales'",
                                    "the policy defines no skills")));
}

TEST(PolicyValidator, SkillRequiredTwiceByOneQueueIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - {name: sales, skills: [{skill: sales, min_proficiency: 2}, {skill: sales, min_proficiency: 3}]}
)"),
              ElementsAre(ProblemAt("queues[0].skills[1].skill",
                                    "skill 'sales' is required twice; keep one")));
}

TEST(PolicyValidator, SkillRequirementWithoutSkillNameIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - {name: sales, skills: [{min_proficiency: 2}]}
)"),
              ElementsAre(ProblemAt("queues[0].skills[0].skill",
                                    "queue 'sales': name the skill required")));
}

TEST(PolicyValidator, ProficiencyOutsideOneToFiveIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    skills:
      - {skill: sales, min_proficiency: 0}
      - {skill: billing, min_proficiency: 6}
      - {skill: tech_support}
)"),
              ElementsAre(ProblemAt("queues[0].skills[0].min_proficiency",
                                    "proficiency runs from 1 to 5, not 0"),
                          ProblemAt("queues[0].skills[1].min_proficiency",
                                    "proficiency runs from 1 to 5, not 6"),
                          ProblemAt("queues[0].skills[2].min_proficiency",
                                    "proficiency runs from 1 to 5, not 0")));
}

// --- Escalation ---

TEST(PolicyValidator, EscalationStepAtZeroOrNegativeSecondsIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
  - name: billing
    escalation:
      - {after_seconds: -5, raise_priority: {by: 5}}
      - {after_seconds: 30, raise_priority: {by: 5}}
      - {after_seconds: 0, raise_priority: {by: 5}}
)"),
              ElementsAre(ProblemAt("queues[1].escalation[0].after_seconds",
                                    "queue 'billing': escalation step 1: after_seconds must be > 0"),
                          ProblemAt("queues[1].escalation[2].after_seconds",
                                    "queue 'billing': escalation step 3: after_seconds must be > 0")));
}

TEST(PolicyValidator, EscalationStepNotLaterThanThePreviousOneQuotesThePreviousValue) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
  - name: billing
    escalation:
      - {after_seconds: 30, raise_priority: {by: 5}}
      - {after_seconds: 60, raise_priority: {by: 5}}
      - {after_seconds: 60, raise_priority: {by: 5}}
  - name: support
    escalation:
      - {after_seconds: 45, raise_priority: {by: 5}}
      - {after_seconds: 30.5, raise_priority: {by: 5}}
)"),
              ElementsAre(ProblemAt("queues[1].escalation[2].after_seconds",
                                    "queue 'billing': escalation step 3: after_seconds must be > "
                                    "step 2's (60), not 60"),
                          ProblemAt("queues[2].escalation[1].after_seconds",
                                    "queue 'support': escalation step 2: after_seconds must be > "
                                    "step 1's (45), not 30.5")));
}

// Steps 30, 20, 25: step 2 is out of order, and whatever is said about step 3 must not claim
// that step 2 was at 30 s.
TEST(PolicyValidator, EscalationOrderMessageNeverMisquotesTheStepItNames) {
  std::vector<PolicyProblem> problems = ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation:
      - {after_seconds: 30, raise_priority: {by: 5}}
      - {after_seconds: 20, raise_priority: {by: 5}}
      - {after_seconds: 25, raise_priority: {by: 5}}
)");
  EXPECT_THAT(problems, Contains(ProblemAt("queues[0].escalation[1].after_seconds",
                                           "must be > step 1's (30), not 20")));
  EXPECT_THAT(problems,
              Each(Field("message", &PolicyProblem::message, Not(HasSubstr("step 2's (30)")))));
}

TEST(PolicyValidator, EscalationStepAtNotANumberSecondsIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation:
      - {after_seconds: .nan, raise_priority: {by: 5}}
)"),
              ElementsAre(ProblemAt("queues[0].escalation[0].after_seconds", "after_seconds")));
}

TEST(PolicyValidator, EscalationStepWithoutActionIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation: [{after_seconds: 30}]
)"),
              ElementsAre(ProblemAt("queues[0].escalation[0]", "escalation step 1 has no action",
                                    "relax_skill_floor, add_alternative_skills, overflow, "
                                    "raise_priority, fallback")));
}

TEST(PolicyValidator, StepsAfterAnOverflowNeverFireAndAreReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation:
      - {after_seconds: 60, overflow: {queue: billing}}
      - {after_seconds: 120, raise_priority: {by: 5}}
  - name: billing
)"),
              ElementsAre(ProblemAt("queues[0].escalation[1]",
                                    "queue 'sales': escalation step 2 never fires: step 1 already "
                                    "moves the call out of the queue")));
}

TEST(PolicyValidator, StepsAfterAFallbackNeverFireAndAreReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    fallback: "voicemail:sales"
    escalation:
      - {after_seconds: 30, raise_priority: {by: 5}}
      - {after_seconds: 60, fallback: {}}
      - {after_seconds: 90, raise_priority: {by: 5}}
      - {after_seconds: 120, overflow: {queue: billing}}
  - name: billing
)"),
              ElementsAre(ProblemAt("queues[0].escalation[2]",
                                    "escalation step 3 never fires: step 2 already moves the call"),
                          ProblemAt("queues[0].escalation[3]",
                                    "escalation step 4 never fires: step 2 already moves the call")));
}

TEST(PolicyValidator, StepsAtOrAfterMaxWaitNeverFireAndAreReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    max_wait_seconds: 120
    fallback: "voicemail:sales"
    escalation:
      - {after_seconds: 119, raise_priority: {by: 5}}
      - {after_seconds: 120, raise_priority: {by: 5}}
      - {after_seconds: 180, raise_priority: {by: 5}}
)"),
              ElementsAre(ProblemAt("queues[0].escalation[1].after_seconds",
                                    "escalation step 2 at 120 s never fires",
                                    "max_wait_seconds (120) sends the call to the fallback first"),
                          ProblemAt("queues[0].escalation[2].after_seconds",
                                    "escalation step 3 at 180 s never fires",
                                    "max_wait_seconds (120)")));
}

TEST(PolicyValidator, RelaxingTheSkillFloorOfAQueueWithoutSkillsIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: general
    escalation: [{after_seconds: 30, relax_skill_floor: {to: 1}}]
)"),
              ElementsAre(ProblemAt("queues[0].escalation[0].relax_skill_floor",
                                    "queue 'general': the queue requires no skill",
                                    "no floor to relax")));
}

TEST(PolicyValidator, RelaxingTheSkillFloorOutsideOneToFiveIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 3}]
    escalation:
      - {after_seconds: 30, relax_skill_floor: {to: 0}}
      - {after_seconds: 60, relax_skill_floor: {to: 6}}
)"),
              ElementsAre(ProblemAt("queues[0].escalation[0].relax_skill_floor.to",
                                    "between 1 and 5, not 0"),
                          ProblemAt("queues[0].escalation[1].relax_skill_floor.to",
                                    "between 1 and 5, not 6")));
}

TEST(PolicyValidator, AlternativeSkillsStepWithNoSkillsIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation: [{after_seconds: 30, add_alternative_skills: {skills: []}}]
)"),
              ElementsAre(ProblemAt("queues[0].escalation[0].add_alternative_skills.skills",
                                    "queue 'sales': list at least one skill")));
}

TEST(PolicyValidator, AlternativeSkillsAreCheckedLikeQueueSkills) {
  EXPECT_THAT(
      ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation:
      - after_seconds: 30
        add_alternative_skills:
          skills: [{skill: biling, min_proficiency: 2}, {skill: sales, min_proficiency: 7}]
)"),
      ElementsAre(ProblemAt("queues[0].escalation[0].add_alternative_skills.skills[0].skill",
                            "unknown skill 'biling'; did you mean 'billing'?"),
                  ProblemAt("queues[0].escalation[0].add_alternative_skills.skills[1]"
                            ".min_proficiency",
                            "from 1 to 5, not 7")));
}

TEST(PolicyValidator, RaisingPriorityByZeroOrBeyondTheLimitIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation:
      - {after_seconds: 30, raise_priority: {by: 0}}
      - {after_seconds: 60, raise_priority: {by: 1001}}
)"),
              ElementsAre(ProblemAt("queues[0].escalation[0].raise_priority.by",
                                    "queue 'sales': raise by a non-zero amount"),
                          ProblemAt("queues[0].escalation[1].raise_priority.by",
                                    "between -1000 and 1000, not 1001")));
}

TEST(PolicyValidator, FallbackStepWithoutTargetNeedsTheQueuesFallback) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation: [{after_seconds: 30, fallback: {}}]
)"),
              ElementsAre(ProblemAt("queues[0].escalation[0].fallback.target",
                                    "give the fallback step a target or set the queue's fallback")));
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation: [{after_seconds: 30, fallback: {target: "voicemail:sales"}}]
  - name: billing
    fallback: "voicemail:billing"
    escalation: [{after_seconds: 30, fallback: {}}]
)"),
              IsEmpty());
}

// --- Overflow ---

TEST(PolicyValidator, OverflowToMisspelledQueueSuggestsTheClosestQueue) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation: [{after_seconds: 30, overflow: {queue: biling}}]
  - name: billing
)"),
              ElementsAre(ProblemAt("queues[0].escalation[0].overflow.queue",
                                    "queue 'sales': unknown queue 'biling'; did you mean 'billing'?")));
}

TEST(PolicyValidator, OverflowToUnknownQueueUnlikeAnyOtherListsTheKnownQueues) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation: [{after_seconds: 30, overflow: {queue: warehouse}}]
  - name: billing
)"),
              ElementsAre(ProblemAt("queues[0].escalation[0].overflow.queue",
                                    "unknown queue 'warehouse'; known queues: sales, billing")));
}

TEST(PolicyValidator, QueueOverflowingIntoItselfIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation: [{after_seconds: 30, overflow: {queue: sales}}]
)"),
              ElementsAre(ProblemAt("queues[0].escalation[0].overflow.queue",
                                    "a queue cannot overflow into itself")));
}

TEST(PolicyValidator, OverflowToAQueueOfAnotherChannelIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation: [{after_seconds: 30, overflow: {queue: chat_sales}}]
  - name: chat_sales
    channel: chat
  - name: billing
    channel: voice
    escalation: [{after_seconds: 30, overflow: {queue: sales}}]
)"),
              ElementsAre(ProblemAt("queues[0].escalation[0].overflow.queue",
                                    "overflow queue 'chat_sales' serves another channel",
                                    "only between queues of one channel")));
}

TEST(PolicyValidator, OverflowLoopBetweenTwoQueuesIsReportedWithTheLoop) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation: [{after_seconds: 60, overflow: {queue: billing}}]
  - name: billing
    escalation: [{after_seconds: 60, overflow: {queue: sales}}]
)"),
              ElementsAre(ProblemAt("queues[1].escalation",
                                    "overflow loop: sales -> billing -> sales",
                                    "bounce between these queues forever")));
}

TEST(PolicyValidator, OverflowLoopThroughThreeQueuesIsReportedWithTheLoop) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation: [{after_seconds: 60, overflow: {queue: billing}}]
  - name: billing
    escalation: [{after_seconds: 60, overflow: {queue: support}}]
  - name: support
    escalation: [{after_seconds: 60, overflow: {queue: sales}}]
)"),
              ElementsAre(ProblemAt("queues[2].escalation",
                                    "overflow loop: sales -> billing -> support -> sales")));
}

TEST(PolicyValidator, OverflowLoopReachedFromAnotherQueueListsOnlyTheLoop) {
  std::vector<PolicyProblem> problems = ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation: [{after_seconds: 60, overflow: {queue: billing}}]
  - name: billing
    escalation: [{after_seconds: 60, overflow: {queue: support}}]
  - name: support
    escalation: [{after_seconds: 60, overflow: {queue: billing}}]
)");
  EXPECT_THAT(problems, ElementsAre(ProblemAt("queues[2].escalation",
                                              "overflow loop: billing -> support -> billing")));
  EXPECT_THAT(problems,
              Each(Field("message", &PolicyProblem::message, Not(HasSubstr("sales ->")))));
}

TEST(PolicyValidator, TwoSeparateOverflowLoopsAreBothReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation: [{after_seconds: 60, overflow: {queue: billing}}]
  - name: billing
    escalation: [{after_seconds: 60, overflow: {queue: sales}}]
  - name: support
    escalation: [{after_seconds: 60, overflow: {queue: general}}]
  - name: general
    escalation: [{after_seconds: 60, overflow: {queue: support}}]
)"),
              UnorderedElementsAre(
                  ProblemAt("queues[1].escalation", "overflow loop: sales -> billing -> sales"),
                  ProblemAt("queues[3].escalation",
                            "overflow loop: support -> general -> support")));
}

TEST(PolicyValidator, OverflowChainsAndMergesWithoutALoopAreAccepted) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - name: sales
    escalation: [{after_seconds: 60, overflow: {queue: billing}}]
  - name: support
    escalation: [{after_seconds: 60, overflow: {queue: billing}}]
  - name: billing
    escalation: [{after_seconds: 60, overflow: {queue: general}}]
  - name: general
)"),
              IsEmpty());
}

// --- Leaving the queue ---

TEST(PolicyValidator, MaxWaitWithoutFallbackIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - {name: sales, max_wait_seconds: 300}
)"),
              ElementsAre(ProblemAt("queues[0].fallback",
                                    "queue 'sales': max_queue_length or max_wait_seconds is set",
                                    "set fallback (e.g. \"voicemail:sales\")")));
}

TEST(PolicyValidator, MaxQueueLengthWithoutFallbackIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - {name: billing, max_queue_length: 10}
)"),
              ElementsAre(ProblemAt("queues[0].fallback",
                                    "set fallback (e.g. \"voicemail:billing\")")));
}

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
