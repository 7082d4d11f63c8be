// ValidatePolicy on a call's way through and out of a queue: escalation steps in time order with
// one sound action each, overflow targets without loops, and a fallback wherever a call may leave.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/policy_validator.h"
#include "tests/routing/policy_problems.h"

namespace acd::routing {
namespace {

using ::acd::routing::testing::ProblemAt;
using ::acd::routing::testing::ProblemsWithSkills;
using ::testing::Contains;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

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
                                    "overflow loop: 'sales' -> 'billing' -> 'sales'",
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
                                    "overflow loop: 'sales' -> 'billing' -> 'support' -> "
                                    "'sales'")));
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
                                              "overflow loop: 'billing' -> 'support' -> "
                                              "'billing'")));
  EXPECT_THAT(problems,
              Each(Field("message", &PolicyProblem::message, Not(HasSubstr("'sales' ->")))));
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
                  ProblemAt("queues[1].escalation",
                            "overflow loop: 'sales' -> 'billing' -> 'sales'"),
                  ProblemAt("queues[3].escalation",
                            "overflow loop: 'support' -> 'general' -> 'support'")));
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
                                    "set fallback (e.g. 'voicemail:sales')")));
}

TEST(PolicyValidator, MaxQueueLengthWithoutFallbackIsReported) {
  EXPECT_THAT(ProblemsWithSkills(R"(
queues:
  - {name: billing, max_queue_length: 10}
)"),
              ElementsAre(ProblemAt("queues[0].fallback",
                                    "set fallback (e.g. 'voicemail:billing')")));
}

}  // namespace
}  // namespace acd::routing
