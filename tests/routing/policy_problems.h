// Policy validator test helpers: the problems ValidatePolicy finds in a policy written as YAML,
// and a matcher for one problem by its field path and the words of its message.
//   EXPECT_THAT(ProblemsWithSkills("queues: [{name: sales, max_wait_seconds: 300}]"),
//               ElementsAre(ProblemAt("queues[0].fallback", "set fallback")));
#ifndef ACD_TESTS_ROUTING_POLICY_PROBLEMS_H_
#define ACD_TESTS_ROUTING_POLICY_PROBLEMS_H_

#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "routing/policy_problem.h"
#include "routing/policy_validator.h"
#include "tests/routing/test_policy.h"

namespace acd::routing {

// Failures print the problem the way an operator would read it.
inline void PrintTo(const PolicyProblem& problem, std::ostream* os) {
  *os << problem.line << ":" << problem.column << ": " << problem.path << ": " << problem.message;
}

namespace testing {

// A problem at exactly `path` whose message contains every one of `parts`.
template <typename... Parts>
::testing::Matcher<const PolicyProblem&> ProblemAt(const std::string& path, const Parts&... parts) {
  using ::testing::AllOf;
  using ::testing::Field;
  using ::testing::HasSubstr;
  return AllOf(Field("path", &PolicyProblem::path, path),
               Field("message", &PolicyProblem::message, AllOf(HasSubstr(std::string(parts))...)));
}

inline std::vector<PolicyProblem> ProblemsOf(const std::string& yaml) {
  return ValidatePolicy(ProtoFromYaml(yaml));
}

// The skills most tests' queues are built on; append `queues:` and whatever else a test needs.
inline constexpr char kSkills[] = R"(
skills: [{name: sales}, {name: billing}, {name: tech_support}]
languages: [en, es]
)";

inline std::vector<PolicyProblem> ProblemsWithSkills(const std::string& yaml) {
  return ProblemsOf(kSkills + yaml);
}

}  // namespace testing
}  // namespace acd::routing

#endif  // ACD_TESTS_ROUTING_POLICY_PROBLEMS_H_
