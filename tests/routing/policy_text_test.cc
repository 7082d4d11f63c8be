// Policy text: from file contents to a compiled policy, with problems pointing at file lines.
#include "routing/policy_text.h"

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/policy_yaml.h"

namespace acd::routing {
namespace {

using ::testing::HasSubstr;

TEST(PolicyText, TheBuiltInPolicyIsTheShippedExampleAndCompiles) {
  std::ifstream in(std::string(ACD_SOURCE_DIR) + "/deploy/policy.example.yaml");
  std::stringstream file;
  file << in.rdbuf();
  EXPECT_EQ(DefaultPolicyYaml(), file.str());
  auto policy = CompilePolicyText(DefaultPolicyYaml(), kDefaultPolicyName);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ((*policy)->queues.size(), 6u);
  EXPECT_EQ((*policy)->languages, (std::vector<std::string>{"en", "es"}));
}

TEST(PolicyText, MeaningProblemsCarryTheFileAndLineOfTheField) {
  auto policy = CompilePolicyText(R"(skills: [{name: sales}]
queues:
  - name: sales
    skills: [{skill: sale, min_proficiency: 2}]
    escalation:
      - after_seconds: 30
        raise_priority: {by: 5}
      - after_seconds: 20
        raise_priority: {by: 5}
)", "center.yaml");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(policy.status().message(), HasSubstr("2 problems"));
  EXPECT_THAT(policy.status().message(),
              HasSubstr("center.yaml:4:22: queues[0].skills[0].skill: queue 'sales': unknown skill "
                        "'sale'; did you mean 'sales'?"));
  EXPECT_THAT(policy.status().message(),
              HasSubstr("center.yaml:8:24: queues[0].escalation[1].after_seconds: queue 'sales': "
                        "escalation step 2: after_seconds must be > step 1's (30), not 20"));
}

TEST(PolicyText, ShapeProblemsStopBeforeMeaningIsChecked) {
  auto policy = CompilePolicyText("queues:\n  - name: q\n    stratgey: random\n", "p.yaml");
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(policy.status().message(), HasSubstr("p.yaml:3:5: queues[0].stratgey"));
  EXPECT_THAT(policy.status().message(), HasSubstr("did you mean 'strategy'?"));
}

TEST(PolicyText, TheDescriptionNamesEveryQueueAndItsSteps) {
  auto policy = CompilePolicyText(DefaultPolicyYaml(), kDefaultPolicyName);
  ASSERT_TRUE(policy.ok());
  const std::string text = DescribePolicy(**policy);
  for (const char* queue : {"vip", "sales", "support", "billing", "general", "chat_support"}) {
    EXPECT_THAT(text, HasSubstr(std::string("queue ") + queue + " ("));
  }
  EXPECT_THAT(text, HasSubstr("escalation at 120 s: overflow to general"));
  EXPECT_THAT(text, HasSubstr("preferred agent first for 30 s"));
}

TEST(PolicyText, ACompiledPolicysYamlIsMadeOnceByWhicheverThreadAsksFirstAndKept) {
  auto policy = CompilePolicyText(DefaultPolicyYaml(), kDefaultPolicyName);
  ASSERT_TRUE(policy.ok());
  const std::string* from_other_thread = nullptr;
  std::thread other([&] { from_other_thread = &(*policy)->yaml(); });
  const std::string& here = (*policy)->yaml();
  other.join();
  EXPECT_EQ(&here, from_other_thread);
  EXPECT_EQ(here, PolicyToYaml((*policy)->source));
  EXPECT_THAT(here, HasSubstr("name: acme-contact-center"));
}

}  // namespace
}  // namespace acd::routing
