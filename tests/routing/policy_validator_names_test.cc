// ValidatePolicy on names and the references between them: skills, languages, tiers and queues
// named once and well, and skill requirements that name a known skill at a level from 1 to 5.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/policy_validator.h"
#include "tests/routing/policy_problems.h"

namespace acd::routing {
namespace {

using ::acd::routing::testing::ProblemAt;
using ::acd::routing::testing::ProblemsOf;
using ::acd::routing::testing::ProblemsWithSkills;
using ::testing::ElementsAre;

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

TEST(PolicyValidator, AnUnknownSkillWhenEverySkillIsNamelessSaysSoAndDoesNotCrash) {
  // Once a crash of the validator (and, through SetPolicy, of acdd): the suggestion looked for
  // the closest of the known names, and every one was empty.
  EXPECT_THAT(ProblemsOf(R"(
skills: [{name: ""}, {name: ""}]
queues:
  - {name: q, skills: [{skill: x, min_proficiency: 2}]}
)"),
              ::testing::Contains(ProblemAt("queues[0].skills[0].skill", "unknown skill 'x'",
                                            "the policy defines no skills")));
}

TEST(PolicyValidator, NamesThatAreEmptyBlankOrRepeatedEverywhereGiveProblemsNeverACrash) {
  EXPECT_THAT(ProblemsOf(R"(
skills: [{name: " "}, {name: " "}, {name: ""}]
languages: ["", " ", " "]
tiers: [{name: ""}, {name: " "}, {name: " "}]
queues:
  - {name: "", skills: [{skill: "", min_proficiency: 2}, {skill: " ", min_proficiency: 2}]}
  - {name: " ", skills: [{skill: " ", min_proficiency: 2}]}
  - {name: " ", fallback: ""}
)"),
              ::testing::Not(::testing::IsEmpty()));
}

TEST(PolicyValidator, QueueNamesAreQuotedInEveryProblem) {
  // Found by fuzz/policy_text_fuzzer: the fallback example and the overflow loop named queues as
  // written, line breaks and all.
  const auto problems = ProblemsOf(R"(
queues:
  - name: "billi\nng"
    max_queue_length: 10
    escalation: [{after_seconds: 9, overflow: {queue: other}}]
  - {name: other, escalation: [{after_seconds: 9, overflow: {queue: "billi\nng"}}]}
)");
  EXPECT_THAT(problems, ::testing::Contains(ProblemAt("queues[0].fallback",
                                                      "(e.g. 'voicemail:billi\\x0ang')")));
  EXPECT_THAT(problems, ::testing::Contains(ProblemAt("queues[1].escalation",
                                                      "overflow loop: 'billi\\x0ang' -> 'other'")));
  for (const PolicyProblem& p : problems) {
    EXPECT_THAT(p.message, ::testing::Not(::testing::HasSubstr("\n"))) << p.message;
  }
}

TEST(PolicyValidator, AnUnknownSkillAmongAThousandListsTwentyKnownOnesAndSaysThereAreMore) {
  std::string yaml = "skills: [";
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&yaml, i ? ", " : "", "{name: skill_", i, "}");
  absl::StrAppend(&yaml,
                  "]\nqueues:\n  - {name: q, skills: [{skill: nothing_like_these, "
                  "min_proficiency: 2}]}\n");
  const auto problems = ProblemsOf(yaml);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].message, ::testing::HasSubstr("known skills: skill_0, skill_1, "));
  EXPECT_THAT(problems[0].message, ::testing::HasSubstr("skill_19, ..."));
  EXPECT_THAT(problems[0].message, ::testing::Not(::testing::HasSubstr("skill_20")));
}

TEST(PolicyValidator, OnlyTheFirstHundredUnknownNamesGetASuggestion) {
  std::string yaml = "queues:\n";
  for (int i = 0; i < 150; ++i) {
    absl::StrAppend(&yaml, "  - {name: q", i, ", skills: [{skill: slaes, min_proficiency: 2}]}\n");
  }
  const auto problems = ProblemsWithSkills(yaml);
  ASSERT_EQ(problems.size(), 150u);
  EXPECT_THAT(problems[99].message, ::testing::HasSubstr("did you mean 'sales'?"));
  EXPECT_EQ(problems[100].message,
            "queue 'q100': unknown skill 'slaes' (or add it under skills:)");
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

}  // namespace
}  // namespace acd::routing
