#include "routing/policy_yaml.h"

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace acd::routing {

// Failures print the problem the way an operator would read it.
void PrintTo(const PolicyProblem& problem, std::ostream* os) {
  *os << problem.line << ":" << problem.column << ": " << problem.path << ": " << problem.message;
}

namespace {

using ::google::protobuf::TextFormat;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;

MATCHER_P3(ProblemAt, path, line, message_part, "") {
  return ::testing::ExplainMatchResult(
      AllOf(Field("path", &PolicyProblem::path, path), Field("line", &PolicyProblem::line, line),
            Field("message", &PolicyProblem::message, HasSubstr(message_part))),
      arg, result_listener);
}

// The problems of a file that must not parse.
std::vector<PolicyProblem> ProblemsOf(const std::string& yaml) {
  acd::v1::Policy policy;
  std::vector<PolicyProblem> problems;
  EXPECT_FALSE(ParsePolicyYaml(yaml, &policy, &problems)) << "parsed:\n" << yaml;
  return problems;
}

acd::v1::Policy ParseOk(const std::string& yaml) {
  acd::v1::Policy policy;
  std::vector<PolicyProblem> problems;
  EXPECT_TRUE(ParsePolicyYaml(yaml, &policy, &problems)) << "yaml:\n" << yaml;
  EXPECT_THAT(problems, IsEmpty());
  return policy;
}

constexpr char kSmallPolicy[] = R"(name: acme-contact-center
skills:
  - name: billing
    description: Invoices and refunds
  - name: spanish
languages: [en, es]
tiers:
  - name: gold
    priority_boost: 50
queues:
  - name: sales
    channel: voice
    strategy: longest_idle
    skills:
      - skill: billing
        min_proficiency: 3
    priority: 100
    aging_per_second: 0
    escalation:
      - after_seconds: 30
        relax_skill_floor: {to: 1}
      - after_seconds: 90.5
        overflow:
          queue: support
    service_level:
      threshold_seconds: 20
      target_ratio: 0.8
    prompts:
      announce_position: false
  - name: support
    channel: chat
agent_rules:
  max_missed_offers: 0
  max_capacity:
    - channel: chat
      max: 3
limits:
  max_calls_waiting: 100000
random_seed: 18446744073709551615
)";

TEST(PolicyYaml, ParsesASmallPolicyWithTheRightValues) {
  acd::v1::Policy policy = ParseOk(kSmallPolicy);

  EXPECT_EQ(policy.name(), "acme-contact-center");
  ASSERT_EQ(policy.skills_size(), 2);
  EXPECT_EQ(policy.skills(0).description(), "Invoices and refunds");
  EXPECT_EQ(policy.skills(1).name(), "spanish");
  EXPECT_THAT(policy.languages(), ElementsAre("en", "es"));
  EXPECT_EQ(policy.tiers(0).priority_boost(), 50);
  ASSERT_EQ(policy.queues_size(), 2);
  const acd::v1::Queue& sales = policy.queues(0);
  EXPECT_EQ(sales.channel(), acd::v1::CHANNEL_VOICE);
  EXPECT_EQ(sales.strategy(), acd::v1::STRATEGY_LONGEST_IDLE);
  EXPECT_EQ(sales.skills(0).skill(), "billing");
  EXPECT_EQ(sales.skills(0).min_proficiency(), 3);
  EXPECT_EQ(sales.priority(), 100);
  EXPECT_TRUE(sales.has_aging_per_second());  // written as 0: set, not defaulted
  EXPECT_EQ(sales.aging_per_second(), 0.0);
  ASSERT_EQ(sales.escalation_size(), 2);
  EXPECT_EQ(sales.escalation(0).after_seconds(), 30.0);
  EXPECT_EQ(sales.escalation(0).relax_skill_floor().to(), 1);
  EXPECT_EQ(sales.escalation(1).after_seconds(), 90.5);
  EXPECT_EQ(sales.escalation(1).overflow().queue(), "support");
  EXPECT_EQ(sales.service_level().target_ratio(), 0.8);
  EXPECT_TRUE(sales.prompts().has_announce_position());
  EXPECT_FALSE(sales.prompts().announce_position());
  EXPECT_FALSE(sales.prompts().has_announce_ewt());
  EXPECT_EQ(policy.queues(1).channel(), acd::v1::CHANNEL_CHAT);
  EXPECT_TRUE(policy.agent_rules().has_max_missed_offers());
  EXPECT_EQ(policy.agent_rules().max_missed_offers(), 0u);
  EXPECT_EQ(policy.agent_rules().max_capacity(0).channel(), acd::v1::CHANNEL_CHAT);
  EXPECT_EQ(policy.agent_rules().max_capacity(0).max(), 3u);
  EXPECT_EQ(policy.limits().max_calls_waiting(), 100000u);
  EXPECT_EQ(policy.random_seed(), 18446744073709551615u);
}

TEST(PolicyYaml, RecordsWhereEveryFieldItSetsWasWritten) {
  acd::v1::Policy policy;
  std::vector<PolicyProblem> problems;
  PolicySourceMap where;
  ASSERT_TRUE(ParsePolicyYaml(kSmallPolicy, &policy, &problems, &where));

  // Scalars point at their value, messages and lists at their key, list elements at the element.
  EXPECT_THAT(where.positions.at("name"), Pair(1, 7));
  EXPECT_THAT(where.positions.at("queues"), Pair(10, 1));
  EXPECT_THAT(where.positions.at("queues[0]"), Pair(11, 5));
  EXPECT_THAT(where.positions.at("queues[0].channel"), Pair(12, 14));
  EXPECT_THAT(where.positions.at("queues[0].escalation[1]"), Pair(22, 9));
  EXPECT_THAT(where.positions.at("queues[0].escalation[1].overflow"), Pair(23, 9));
  EXPECT_THAT(where.positions.at("queues[0].escalation[1].overflow.queue"), Pair(24, 18));
  EXPECT_THAT(where.positions.at("languages[1]"), Pair(6, 17));
  EXPECT_THAT(where.positions.at("random_seed"), Pair(39, 14));
  EXPECT_FALSE(where.positions.contains("queues[1].strategy"));  // never written
}

TEST(PolicyYaml, AnnotatePlacesAProblemAtTheLongestKnownPrefixOfItsPath) {
  acd::v1::Policy policy;
  std::vector<PolicyProblem> problems;
  PolicySourceMap where;
  ASSERT_TRUE(ParsePolicyYaml(kSmallPolicy, &policy, &problems, &where));

  std::vector<PolicyProblem> found = {
      {"queues[0].escalation[1].after_seconds", "exact", 0, 0},
      {"queues[1].strategy", "left out: lands on its queue", 0, 0},
      {"queues[0].escalation[1].overflow.queue", "exact", 0, 0},
      {"tiers", "a list", 0, 0},
      {"", "whole document", 0, 0},
      {"queues[0].name", "already placed", 7, 7},
  };
  where.Annotate(&found);

  EXPECT_EQ(found[0].line, 22);
  EXPECT_EQ(found[0].column, 24);
  EXPECT_EQ(found[1].line, 30);
  EXPECT_EQ(found[1].column, 5);
  EXPECT_EQ(found[2].line, 24);
  EXPECT_EQ(found[3].line, 7);
  EXPECT_EQ(found[4].line, 0);
  EXPECT_EQ(found[5].line, 7);  // not overwritten
  EXPECT_EQ(found[5].column, 7);
}

TEST(PolicyYaml, AnEmptyDocumentGivesAnEmptyPolicy) {
  for (const std::string yaml : {"", "# nothing yet\n", "---\n", "~\n"}) {
    acd::v1::Policy policy;
    policy.set_name("left over from before");
    std::vector<PolicyProblem> problems;
    EXPECT_TRUE(ParsePolicyYaml(yaml, &policy, &problems)) << yaml;
    EXPECT_THAT(problems, IsEmpty());
    EXPECT_EQ(policy.ByteSizeLong(), 0u) << yaml;
  }
}

TEST(PolicyYaml, RejectsATopLevelThatIsNotAMapping) {
  EXPECT_THAT(ProblemsOf("- name: sales\n"), ElementsAre(ProblemAt("", 1, "got a sequence")));
  EXPECT_THAT(ProblemsOf("just words\n"), ElementsAre(ProblemAt("", 1, "a policy is a mapping")));
}

TEST(PolicyYaml, RejectsSeveralDocumentsInOneFile) {
  EXPECT_THAT(ProblemsOf("name: a\n---\nname: b\n"),
              ElementsAre(ProblemAt("", 3, "2 YAML documents")));
}

TEST(PolicyYaml, ReportsASyntaxErrorWithItsPosition) {
  const std::vector<PolicyProblem> problems =
      ProblemsOf("name: acme\nlanguages: [en, es\nqueues: []\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "");
  EXPECT_THAT(problems[0].message, HasSubstr("YAML syntax error"));
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_GT(problems[0].column, 0);

  EXPECT_THAT(ProblemsOf("name: acme\n\tqueues: []\n"), ElementsAre(ProblemAt("", 2, "tab")));
}

TEST(PolicyYaml, SuggestsTheClosestFieldForAMisspelledKey) {
  const std::vector<PolicyProblem> problems = ProblemsOf(R"(queues:
  - name: sales
    stratgey: round_robin
)");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "queues[0].stratgey");
  EXPECT_EQ(problems[0].message, "unknown field 'stratgey'; did you mean 'strategy'?");
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_EQ(problems[0].column, 5);
}

TEST(PolicyYaml, SuggestsTheProtoNameForACamelCaseKey) {
  EXPECT_THAT(
      ProblemsOf("queues:\n  - maxQueueLength: 5\n"),
      ElementsAre(ProblemAt("queues[0].maxQueueLength", 2, "did you mean 'max_queue_length'?")));
}

TEST(PolicyYaml, ListsTheValidFieldsWhenNoFieldNameIsClose) {
  EXPECT_THAT(ProblemsOf("limits:\n  banana: 3\n"),
              ElementsAre(ProblemAt("limits.banana", 2,
                                    "unknown field 'banana'; valid fields are: max_calls_waiting, "
                                    "max_agents, max_call_attributes, max_attribute_bytes")));
}

TEST(PolicyYaml, AnUnknownKeyOfAHundredThousandBytesIsQuotedShortAndListsTheValidFields) {
  const std::string key(100000, 'k');
  // An explicit key ("? "): YAML allows no implicit key longer than 1,024 characters.
  const std::vector<PolicyProblem> problems = ProblemsOf("limits:\n  ? " + key + "\n  : 3\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].message,
              ::testing::StartsWith("unknown field '" + std::string(128, 'k') +
                                    "\xE2\x80\xA6' (100000 bytes); valid fields are: "));
}

TEST(PolicyYaml, AnUnknownKeyThatIsNoWordIsQuotedInTheProblemsPathToo) {
  // Found by fuzz/policy_text_fuzzer: the path carried the key as written, line breaks and all.
  EXPECT_THAT(ProblemsOf("limits:\n  \"a\\nb\": 4\n  ? \"\"\n  : 5\n"),
              ElementsAre(ProblemAt("limits.'a\\x0ab'", 2, "unknown field"),
                          ProblemAt("limits.''", 3, "unknown field")));
  const std::vector<PolicyProblem> problems =
      ProblemsOf("limits:\n  ? " + std::string(100000, 'k') + "\n  : 3\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "limits.'" + std::string(128, 'k') + "\xE2\x80\xA6' (100000 bytes)");
}

TEST(PolicyYaml, ATextThatIsNotUtf8IsRefusedWhereItGoesWrong) {
  // Found by fuzz/policy_text_fuzzer: such bytes reached the policy's strings, which the journal
  // cannot read back (a proto3 string must be UTF-8).
  const std::vector<PolicyProblem> problems =
      ProblemsOf("name: acme\nqueues:\n  - {name: caf\xE9}\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].message,
            "the policy is not UTF-8 here (byte 0xe9); save the file as UTF-8");
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_EQ(problems[0].column, 15);
  acd::v1::Policy policy;
  EXPECT_FALSE(ParsePolicyYaml("\xFF", &policy, nullptr));
}

TEST(PolicyYaml, AStrayCommaWhereADocumentStartsIsASyntaxErrorNotAnEndlessLoop) {
  // Found by fuzz/policy_text_fuzzer: yaml-cpp 0.7's LoadAll looped here, allocating without end
  // (a 99-byte policy took 10 GB in a minute).
  EXPECT_THAT(ProblemsOf(","),
              ElementsAre(ProblemAt("", 1, "YAML syntax error: unexpected token where a document "
                                           "should start")));
  EXPECT_THAT(ProblemsOf("name: a\n, b\nqueues: []\n"),
              ElementsAre(ProblemAt("", 2, "YAML syntax error")));
}

TEST(PolicyYaml, ASyntaxErrorQuotingAByteOfTheTextIsValidUtf8) {
  // Found by fuzz/policy_text_fuzzer: yaml-cpp's message carried the first byte of an escaped
  // character, not valid UTF-8 on its own.
  EXPECT_THAT(ProblemsOf("name: \"a\\\xC3\xA9\"\n"),
              ElementsAre(ProblemAt("", 1,
                                    "YAML syntax error: unknown escape character: \xEF\xBF\xBD")));
}

TEST(PolicyYaml, AcceptsEnumValuesShortFullAndInAnyCase) {
  const acd::v1::Policy policy = ParseOk(R"(queues:
  - channel: voice
    strategy: most_proficient
  - channel: CHANNEL_CHAT
    strategy: Strategy_Round_Robin
  - channel: Email
    strategy: FEWEST_CALLS
  - channel: sms
)");
  EXPECT_EQ(policy.queues(0).channel(), acd::v1::CHANNEL_VOICE);
  EXPECT_EQ(policy.queues(0).strategy(), acd::v1::STRATEGY_MOST_PROFICIENT);
  EXPECT_EQ(policy.queues(1).channel(), acd::v1::CHANNEL_CHAT);
  EXPECT_EQ(policy.queues(1).strategy(), acd::v1::STRATEGY_ROUND_ROBIN);
  EXPECT_EQ(policy.queues(2).channel(), acd::v1::CHANNEL_EMAIL);
  EXPECT_EQ(policy.queues(2).strategy(), acd::v1::STRATEGY_FEWEST_CALLS);
  EXPECT_EQ(policy.queues(3).channel(), acd::v1::CHANNEL_SMS);
}

TEST(PolicyYaml, ListsTheAllowedValuesForAnUnknownEnumValue) {
  const std::vector<PolicyProblem> problems =
      ProblemsOf("queues:\n  - name: a\n  - name: b\n    strategy: fastest\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "queues[1].strategy");
  EXPECT_EQ(problems[0].message,
            "unknown value 'fastest'; use one of: longest_idle, most_proficient, fewest_calls, "
            "round_robin, random");
  EXPECT_EQ(problems[0].line, 4);
  EXPECT_EQ(problems[0].column, 15);
}

TEST(PolicyYaml, ChecksIntegersAgainstTheRangeOfTheirType) {
  const acd::v1::Policy edges = ParseOk(R"(tiers:
  - priority_boost: -2147483648
  - priority_boost: 2147483647
  - priority_boost: 0x10
queues:
  - max_queue_length: 4294967295
random_seed: 18446744073709551615
)");
  EXPECT_EQ(edges.tiers(0).priority_boost(), -2147483648);
  EXPECT_EQ(edges.tiers(1).priority_boost(), 2147483647);
  EXPECT_EQ(edges.tiers(2).priority_boost(), 16);
  EXPECT_EQ(edges.queues(0).max_queue_length(), 4294967295u);

  EXPECT_THAT(
      ProblemsOf(R"(tiers:
  - priority_boost: 2147483648
  - priority_boost: -2147483649
queues:
  - max_queue_length: 4294967296
  - max_queue_length: -1
random_seed: 18446744073709551616
limits:
  max_agents: -99999999999999999999999
)"),
      ElementsAre(ProblemAt("tiers[0].priority_boost", 2,
                            "'2147483648' is out of range for int32 (-2147483648 to 2147483647)"),
                  ProblemAt("tiers[1].priority_boost", 3, "out of range for int32"),
                  ProblemAt("queues[0].max_queue_length", 5,
                            "'4294967296' is out of range for uint32 (0 to 4294967295)"),
                  ProblemAt("queues[1].max_queue_length", 6,
                            "'-1' is negative; uint32 takes 0 to 4294967295"),
                  ProblemAt("random_seed", 7, "out of range for uint64"),
                  ProblemAt("limits.max_agents", 9, "is negative")));
}

TEST(PolicyYaml, RejectsTextThatIsNotANumber) {
  EXPECT_THAT(
      ProblemsOf(R"(queues:
  - priority: 1.5
    wrap_up_seconds: soon
    max_queue_length: ten
    service_level:
      target_ratio: 80%
)"),
      ElementsAre(
          ProblemAt("queues[0].priority", 2, "expected an integer (int32), got '1.5'"),
          ProblemAt("queues[0].wrap_up_seconds", 3, "expected a number, got 'soon'"),
          ProblemAt("queues[0].max_queue_length", 4, "expected an integer (uint32), got 'ten'"),
          ProblemAt("queues[0].service_level.target_ratio", 6, "expected a number, got '80%'")));
}

TEST(PolicyYaml, AcceptsIntegersAndExponentsForNumbers) {
  const acd::v1::Policy policy = ParseOk(R"(queues:
  - wrap_up_seconds: 15
    max_wait_seconds: 1.5e3
    offer_timeout_seconds: -0.25
    holds: {max_seconds: .inf}
)");
  EXPECT_EQ(policy.queues(0).wrap_up_seconds(), 15.0);
  EXPECT_EQ(policy.queues(0).max_wait_seconds(), 1500.0);
  EXPECT_EQ(policy.queues(0).offer_timeout_seconds(), -0.25);
  EXPECT_TRUE(std::isinf(policy.queues(0).holds().max_seconds()));
}

TEST(PolicyYaml, ReadsBooleansAndRejectsOtherWords) {
  const acd::v1::Policy policy = ParseOk(R"(queues:
  - prompts: {announce_position: true, announce_ewt: false}
agent_rules:
  voice_allows_other_channels: yes
)");
  EXPECT_TRUE(policy.queues(0).prompts().announce_position());
  EXPECT_TRUE(policy.queues(0).prompts().has_announce_ewt());
  EXPECT_FALSE(policy.queues(0).prompts().announce_ewt());
  EXPECT_TRUE(policy.agent_rules().voice_allows_other_channels());

  EXPECT_THAT(ProblemsOf("agent_rules:\n  voice_allows_other_channels: maybe\n"),
              ElementsAre(ProblemAt("agent_rules.voice_allows_other_channels", 2,
                                    "expected true or false, got 'maybe'")));
}

TEST(PolicyYaml, NamesTheExpectedTypeWhenANodeHasTheWrongShape) {
  EXPECT_THAT(
      ProblemsOf(R"(name:
  first: acme
languages: en
limits: [1, 2]
queues:
  - sales
  - name: [a, b]
    channel: {kind: voice}
    priority: [1]
)"),
      ElementsAre(
          ProblemAt("name", 2, "expected a string, got a mapping"),
          ProblemAt("languages", 3,
                    "expected a sequence (a list), each element a string; got 'en'"),
          ProblemAt("limits", 4, "expected a mapping of Limits fields, got a sequence"),
          ProblemAt("queues[0]", 6, "expected a mapping of Queue fields, got 'sales'"),
          ProblemAt("queues[1].name", 7, "expected a string, got a sequence"),
          ProblemAt("queues[1].channel", 8,
                    "expected one of: voice, chat, email, sms, social, video, got a mapping"),
          ProblemAt("queues[1].priority", 9, "expected an integer (int32), got a sequence")));
}

TEST(PolicyYaml, RejectsTwoActionsInOneEscalationStep) {
  EXPECT_THAT(
      ProblemsOf(R"(queues:
  - name: sales
    escalation:
      - after_seconds: 60
        overflow: {queue: support}
        raise_priority: {by: 10}
)"),
      ElementsAre(ProblemAt("queues[0].escalation[0].raise_priority", 6,
                            "'raise_priority' and 'overflow' are both set; give only one of "
                            "relax_skill_floor, add_alternative_skills, overflow, "
                            "raise_priority, fallback")));
}

TEST(PolicyYaml, LeavesAFieldUnsetWhenItsValueIsNull) {
  const acd::v1::Policy policy = ParseOk(R"(name:
queues:
  - name: sales
    aging_per_second:
    prompts:
    escalation:
      - after_seconds: 10
        overflow:
        fallback: {target: "voicemail:sales"}
agent_rules: ~
)");
  EXPECT_EQ(policy.name(), "");
  EXPECT_FALSE(policy.queues(0).has_aging_per_second());
  EXPECT_FALSE(policy.queues(0).has_prompts());
  EXPECT_FALSE(policy.has_agent_rules());
  // A null member does not count against the oneof.
  EXPECT_EQ(policy.queues(0).escalation(0).action_case(), acd::v1::EscalationStep::kFallback);
  EXPECT_EQ(policy.queues(0).escalation(0).fallback().target(), "voicemail:sales");
}

TEST(PolicyYaml, ReportsADuplicateKey) {
  EXPECT_THAT(ProblemsOf(R"(name: acme
queues:
  - name: sales
    priority: 10
    channel: voice
    priority: 20
)"),
              ElementsAre(ProblemAt("queues[0].priority", 6,
                                    "'priority' is given twice (first on line 4); keep one")));
}

TEST(PolicyYaml, ReportsEveryProblemInAFileNotJustTheFirst) {
  const std::vector<PolicyProblem> problems = ProblemsOf(R"(name: acme
skills:
  - nmae: billing
queues:
  - name: sales
    channel: fax
    priority: 99999999999
    escalation:
      - after_seconds: soon
        overflow: {queue: support}
        fallback: {}
limits:
  max_agents: -5
  max_agents: 5
)");
  EXPECT_THAT(
      problems,
      ElementsAre(ProblemAt("skills[0].nmae", 3, "did you mean 'name'?"),
                  ProblemAt("queues[0].channel", 6, "unknown value 'fax'"),
                  ProblemAt("queues[0].priority", 7, "out of range for int32"),
                  ProblemAt("queues[0].escalation[0].after_seconds", 9, "expected a number"),
                  ProblemAt("queues[0].escalation[0].fallback", 11, "are both set"),
                  ProblemAt("limits.max_agents", 13, "is negative"),
                  ProblemAt("limits.max_agents", 14, "given twice")));
}

TEST(PolicyYaml, AppendsToProblemsAlreadyCollected) {
  acd::v1::Policy policy;
  std::vector<PolicyProblem> problems = {{"elsewhere", "an earlier problem", 1, 1}};
  EXPECT_FALSE(ParsePolicyYaml("nmae: x\n", &policy, &problems));
  EXPECT_THAT(problems, ElementsAre(ProblemAt("elsewhere", 1, "earlier"),
                                    ProblemAt("nmae", 1, "did you mean 'name'?")));
  // A caller that only wants the verdict may pass no problem list.
  EXPECT_FALSE(ParsePolicyYaml("nmae: x\n", &policy, nullptr));
  EXPECT_TRUE(ParsePolicyYaml("name: x\n", &policy, nullptr));
}

TEST(PolicyYaml, WritesBlockStyleWithShortEnumNamesAndNoDefaults) {
  acd::v1::Policy policy;
  policy.set_name("acme");
  acd::v1::Queue* queue = policy.add_queues();
  queue->set_name("sales");
  queue->set_channel(acd::v1::CHANNEL_CHAT);
  queue->set_strategy(acd::v1::STRATEGY_ROUND_ROBIN);
  queue->set_priority(0);          // default: omitted
  queue->set_aging_per_second(0);  // presence-tracked: kept
  queue->mutable_holds();          // set but empty: kept as {}
  queue->mutable_prompts()->set_announce_ewt(false);
  queue->add_escalation()->mutable_raise_priority()->set_by(5);
  policy.add_languages("en");

  EXPECT_EQ(PolicyToYaml(policy), R"(name: acme
languages:
  - en
queues:
  - name: sales
    channel: chat
    strategy: round_robin
    aging_per_second: 0
    escalation:
      - raise_priority:
          by: 5
    prompts:
      announce_ewt: false
    holds: {}
)");
  EXPECT_EQ(PolicyToYaml(acd::v1::Policy()), "{}\n");
}

TEST(PolicyYaml, QuotesStringsThatWouldReadAsNumbersOrBooleans) {
  acd::v1::Policy policy;
  policy.set_name("2026");
  policy.add_languages("no");  // Norwegian, not false
  policy.add_languages("en");
  EXPECT_EQ(PolicyToYaml(policy), "name: \"2026\"\nlanguages:\n  - \"no\"\n  - en\n");
}

TEST(PolicyYaml, QuotesTextWithLineBreaksOrControlCharactersSoThatItReadsBack) {
  // Found by the policy_text fuzzer: yaml-cpp wrote "vm:\r" plain, which did not read back.
  for (const std::string& text :
       {std::string("vm:\r"), std::string("a\rb"), std::string("tab\there"), std::string("bell\a"),
        std::string("nul\0byte", 8), std::string("del\x7F"), std::string("next\xC2\x85line"),
        std::string("c1\xC2\x9F"), std::string("ls\xE2\x80\xA8"), std::string("ps\xE2\x80\xA9:"),
        std::string("cr only:\r"), std::string("\r")}) {
    acd::v1::Policy policy;
    policy.set_name(text);
    const std::string yaml = PolicyToYaml(policy);
    EXPECT_EQ(yaml.rfind("name: \"", 0), 0u) << yaml;
    acd::v1::Policy read;
    std::vector<PolicyProblem> problems;
    ASSERT_TRUE(ParsePolicyYaml(yaml, &read, &problems)) << yaml;
    EXPECT_EQ(read.name(), text) << yaml;
  }
}

TEST(PolicyYaml, ReadsTheNextLineAndNoBreakSpaceEscapesAsUtf8) {
  // Found by the policy_text fuzzer: yaml-cpp decodes "\N" and "\_" to the bare bytes 0x85 and
  // 0xA0, which no proto3 string may hold.
  acd::v1::Policy policy;
  std::vector<PolicyProblem> problems;
  ASSERT_TRUE(ParsePolicyYaml("name: \"a\\Nb\\_c\\x85d\"\n", &policy, &problems));
  EXPECT_EQ(policy.name(),
            "a\xC2\x85"
            "b\xC2\xA0"
            "c\xC2\x85"
            "d");
  acd::v1::Policy read;
  ASSERT_TRUE(ParsePolicyYaml(PolicyToYaml(policy), &read, &problems));
  EXPECT_EQ(read.name(), policy.name());
}

TEST(PolicyYaml, RoundTripsARichPolicy) {
  acd::v1::Policy policy;
  ASSERT_TRUE(TextFormat::ParseFromString(
      R"pb(
        name: "acme-contact-center 2026-11"
        skills { name: "billing" description: "Invoices: refunds & disputes" }
        skills { name: "spanish" }
        skills {}
        languages: [
          "en",
          "es",
          "",
          "~",
          "null",
          "true",
          "123",
          " padded ",
          "- dash",
          "# hash",
          "'quoted'",
          "line one\nline two",
          "café",
          "a: b"
        ]
        tiers { name: "gold" priority_boost: 50 }
        tiers { name: "debt" priority_boost: -2147483648 }
        queues {
          name: "sales"
          description: "Inbound sales, weekdays"
          channel: CHANNEL_VOICE
          skills { skill: "billing" min_proficiency: 3 }
          skills { skill: "spanish" min_proficiency: 1 }
          strategy: STRATEGY_MOST_PROFICIENT
          preferred_agent { timeout_seconds: 12.5 }
          priority: 1000
          aging_per_second: 0
          escalation {
            after_seconds: 30
            relax_skill_floor { to: 1 }
          }
          escalation {
            after_seconds: 60
            add_alternative_skills { skills { skill: "spanish" min_proficiency: 2 } }
          }
          escalation {
            after_seconds: 90
            overflow { queue: "support" }
          }
          escalation {
            after_seconds: 120
            raise_priority { by: -7 }
          }
          escalation {
            after_seconds: 180
            fallback {}
          }
          escalation {
            after_seconds: 240
            fallback { target: "voicemail:sales" }
          }
          escalation {}
          wrap_up_seconds: 0.1
          offer_timeout_seconds: 1e-07
          service_level { threshold_seconds: 20 target_ratio: 0.8 alert_ratio: 0.7000000000000001 }
          alerts { oldest_wait_seconds: 1e+300 calls_waiting: 4294967295 }
          max_queue_length: 500
          max_wait_seconds: 123456789.123
          fallback: "voicemail:sales"
          prompts {
            update_interval_seconds: 45
            min_spacing_seconds: 20
            announce_position: false
            announce_ewt: true
            ewt_rounding_seconds: 60
            ewt_cap_seconds: 1200
          }
          holds {}
          transfers { max_per_call: 3 priority_boost: 10 }
          callbacks { offer_when_ewt_over_seconds: 300 max_attempts: 2 retry_interval_seconds: 600 }
        }
        queues { name: "support" channel: CHANNEL_VIDEO strategy: STRATEGY_RANDOM }
        queues {}
        agent_rules {
          max_missed_offers: 0
          reject_delay_seconds: 0
          no_answer_delay_seconds: 10
          max_capacity { channel: CHANNEL_CHAT max: 3 }
          max_capacity { channel: CHANNEL_SOCIAL }
          max_capacity {}
          voice_allows_other_channels: true
        }
        limits {
          max_calls_waiting: 100000
          max_agents: 20000
          max_call_attributes: 32
          max_attribute_bytes: 1024
        }
        random_seed: 18446744073709551615
      )pb",
      &policy));

  const std::string yaml = PolicyToYaml(policy);
  acd::v1::Policy parsed;
  std::vector<PolicyProblem> problems;
  ASSERT_TRUE(ParsePolicyYaml(yaml, &parsed, &problems)) << yaml;
  EXPECT_THAT(problems, IsEmpty());
  std::string differences;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&differences);
  EXPECT_TRUE(differencer.Compare(policy, parsed)) << differences << "\n" << yaml;
  // Writing again gives the same text: the form is stable under edit-and-save cycles.
  EXPECT_EQ(PolicyToYaml(parsed), yaml);
}

TEST(PolicyYaml, ParsesItsOwnOutputWithPositionsForEveryLine) {
  const acd::v1::Policy policy = ParseOk(kSmallPolicy);
  const std::string yaml = PolicyToYaml(policy);
  acd::v1::Policy parsed;
  std::vector<PolicyProblem> problems;
  PolicySourceMap where;
  ASSERT_TRUE(ParsePolicyYaml(yaml, &parsed, &problems, &where));
  EXPECT_TRUE(MessageDifferencer::Equals(policy, parsed));
  const int lines =
      static_cast<int>(std::vector<std::string>(absl::StrSplit(yaml, '\n')).size()) - 1;
  for (const auto& [path, position] : where.positions) {
    EXPECT_GE(position.first, 1) << path;
    EXPECT_LE(position.first, lines) << path;
  }
  EXPECT_THAT(where.positions, Not(IsEmpty()));
}

}  // namespace
}  // namespace acd::routing
