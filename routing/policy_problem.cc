#include "routing/policy_problem.h"

#include <algorithm>

#include "absl/strings/ascii.h"
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
  for (size_t i = 0; i < problems.size() && i < kMaxProblemsInStatus; ++i) {
    absl::StrAppend(&text, "\n  ", FormatPolicyProblem(problems[i], file_name));
  }
  if (problems.size() > kMaxProblemsInStatus) {
    absl::StrAppend(&text, "\n  and ", problems.size() - kMaxProblemsInStatus,
                    " more (a dry run, SetPolicy with validate_only, lists up to 100)");
  }
  return absl::InvalidArgumentError(text);
}

// Optimal string alignment distance, case-insensitive: a swapped pair of letters ("stratgey")
// counts as one edit, the most common typo in hand-written keys.
int EditDistance(absl::string_view a, absl::string_view b) {
  const std::string x = absl::AsciiStrToLower(a);
  const std::string y = absl::AsciiStrToLower(b);
  std::vector<std::vector<int>> d(x.size() + 1, std::vector<int>(y.size() + 1));
  for (size_t i = 0; i <= x.size(); ++i) d[i][0] = static_cast<int>(i);
  for (size_t j = 0; j <= y.size(); ++j) d[0][j] = static_cast<int>(j);
  for (size_t i = 1; i <= x.size(); ++i) {
    for (size_t j = 1; j <= y.size(); ++j) {
      const int cost = x[i - 1] == y[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[x.size()][y.size()];
}

}  // namespace acd::routing
