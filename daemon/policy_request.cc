#include "daemon/policy_request.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/text_diff.h"
#include "routing/policy_validator.h"
#include "routing/policy_yaml.h"
#include "routing/quote.h"
#include "routing/request_limits.h"

namespace acd::daemon {
namespace {

struct PolicyRequestRead {
  acd::v1::Policy policy;
  std::vector<routing::PolicyProblem> problems;  // empty: the policy is sound on its own
};

// The policy the request names, and every problem with it; INVALID_ARGUMENT when it names none.
absl::StatusOr<PolicyRequestRead> ReadPolicyRequest(const acd::v1::SetPolicyRequest& request) {
  PolicyRequestRead out;
  routing::PolicySourceMap where;
  switch (request.source_case()) {
    case acd::v1::SetPolicyRequest::kPolicy:
      if (const size_t bytes = request.policy().ByteSizeLong(); bytes > routing::kMaxPolicyBytes) {
        out.problems.push_back(routing::PolicyProblem{
            "", absl::StrCat("the policy is ", bytes, " bytes encoded; at most ",
                             routing::kMaxPolicyBytes)});
        return out;
      }
      out.policy = request.policy();
      break;
    case acd::v1::SetPolicyRequest::kYaml:
      routing::ParsePolicyYaml(request.yaml(), &out.policy, &out.problems, &where);
      break;
    case acd::v1::SetPolicyRequest::SOURCE_NOT_SET:
      return absl::InvalidArgumentError("source: give policy or yaml");
  }
  if (out.problems.empty()) {
    out.problems = routing::ValidatePolicy(out.policy);
    where.Annotate(&out.problems);
  }
  return out;
}

}  // namespace

absl::StatusOr<PolicyRequestPrepared> PreparePolicyRequest(
    const acd::v1::SetPolicyRequest& request) {
  absl::StatusOr<PolicyRequestRead> read = ReadPolicyRequest(request);
  if (!read.ok()) return read.status();
  PolicyRequestPrepared out;
  out.problems = std::move(read->problems);
  if (!out.problems.empty()) return out;
  absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> compiled =
      routing::CompilePolicy(read->policy);
  if (!compiled.ok()) return compiled.status();
  out.compiled = *std::move(compiled);
  return out;
}

void DiffFrom(std::shared_ptr<const routing::CompiledPolicy> running,
              PolicyRequestPrepared& prepared) {
  if (running == nullptr || prepared.compiled == nullptr) return;
  prepared.diff = UnifiedDiff(running->yaml(), prepared.compiled->yaml(), "running", "new");
  prepared.diff_base = std::move(running);
}

void AddProblems(const std::vector<routing::PolicyProblem>& problems,
                 acd::v1::SetPolicyResponse* response) {
  for (size_t i = 0; i < problems.size() && i < kMaxProblemsListed; ++i) {
    const routing::PolicyProblem& p = problems[i];
    acd::v1::PolicyProblem* out = response->add_problems();
    out->set_path(routing::BoundedUtf8(p.path, kMaxProblemBytes));
    out->set_message(routing::BoundedUtf8(p.message, kMaxProblemBytes));
    out->set_line(p.line);
    out->set_column(p.column);
  }
  if (problems.size() > kMaxProblemsListed) {
    response->add_problems()->set_message(
        absl::StrCat("and ", problems.size() - kMaxProblemsListed, " more problems"));
  }
}

absl::Status AnswerProblems(const acd::v1::SetPolicyRequest& request,
                            const std::vector<routing::PolicyProblem>& problems,
                            acd::v1::SetPolicyResponse* response) {
  AddProblems(problems, response);
  if (request.validate_only()) return absl::OkStatus();
  return routing::PolicyProblemsToStatus(problems, "policy");
}

}  // namespace acd::daemon
