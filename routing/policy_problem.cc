#include "routing/policy_problem.h"

#include "absl/strings/str_cat.h"

namespace acd::routing {

std::string FormatPolicyProblem(const PolicyProblem& problem, const std::string& file_name) {
  std::string out;
  if (!file_name.empty()) absl::StrAppend(&out, file_name, ":");
  if (problem.line > 0) absl::StrAppend(&out, problem.line, ":", problem.column, ":");
  if (!out.empty()) out += " ";
  if (!problem.path.empty()) absl::StrAppend(&out, problem.path, ": ");
  absl::StrAppend(&out, problem.message);
  return out;
}

absl::Status PolicyProblemsToStatus(const std::vector<PolicyProblem>& problems,
                                    const std::string& file_name) {
  if (problems.empty()) return absl::OkStatus();
  std::string text = absl::StrCat("policy has ", problems.size(),
                                  problems.size() == 1 ? " problem" : " problems", ":");
  for (const PolicyProblem& p : problems) absl::StrAppend(&text, "\n  ", FormatPolicyProblem(p, file_name));
  return absl::InvalidArgumentError(text);
}

}  // namespace acd::routing
