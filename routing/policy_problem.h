// PolicyProblem is one thing wrong with a policy: where (a field path such as
// "queues[1].escalation[0].after_seconds", plus the file position when known) and how to fix it.
// Loading and validating a policy both report every problem they find, never just the first.
//   std::vector<PolicyProblem> problems = ValidatePolicy(policy);
//   if (!problems.empty()) return PolicyProblemsToStatus(problems);
#ifndef ACD_ROUTING_POLICY_PROBLEM_H_
#define ACD_ROUTING_POLICY_PROBLEM_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace acd::routing {

struct PolicyProblem {
  std::string path;     // field path, "" for the whole document
  std::string message;  // what is wrong and what to do about it
  int line = 0;         // 1-based position in the source file; 0 when unknown
  int column = 0;
};

// "policy.yaml:12:5: queues[1].strategy: unknown value 'fastest'; use one of ..." or without
// the position when it is unknown.
std::string FormatPolicyProblem(const PolicyProblem& problem, const std::string& file_name = "");

// INVALID_ARGUMENT listing each problem on its own line, the first kMaxProblemsInStatus of them
// and how many more; OK when there are none.
inline constexpr size_t kMaxProblemsInStatus = 20;
absl::Status PolicyProblemsToStatus(const std::vector<PolicyProblem>& problems,
                                    const std::string& file_name = "");

// Optimal string alignment distance, case-insensitive, for "did you mean ...?" suggestions: a
// swapped pair of letters ("stratgey") counts as one edit, the most common typo in a policy file.
int EditDistance(absl::string_view a, absl::string_view b);

}  // namespace acd::routing

#endif  // ACD_ROUTING_POLICY_PROBLEM_H_
