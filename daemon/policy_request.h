// What a SetPolicy request asks for, read and checked without the running state: the policy, from
// its proto or its YAML (each bounded by routing::kMaxPolicyBytes), and every problem with its
// shape and meaning. It is pure and its cost is bounded, so the gRPC thread runs it first and a
// policy with problems is answered there, never reaching the engine (or the journal); the core
// takes a sound one compiled (PreparePolicyRequest), and only fits it to the live calls and applies
// it on the engine thread; a replay of the journal prepares it there, from the same request.
// AddProblems puts problems into a response: at most kMaxProblemsListed of them, each cut to
// kMaxProblemBytes.
//   absl::StatusOr<PolicyRequestPrepared> p = PreparePolicyRequest(request);
//   if (p.ok() && !p->problems.empty()) return AnswerProblems(request, p->problems, response);
//   DiffFrom(engine.published_policy(), *p);   // then the engine's Core::SetPolicy applies it
#ifndef ACD_DAEMON_POLICY_REQUEST_H_
#define ACD_DAEMON_POLICY_REQUEST_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "acd/v1/acd.pb.h"
#include "routing/compiled_policy.h"
#include "routing/policy_problem.h"

namespace acd::daemon {

inline constexpr size_t kMaxProblemsListed = 100;
inline constexpr size_t kMaxProblemBytes = 1024;  // of a problem's path, and of its message

// The first kMaxProblemsListed problems, then one that counts the rest.
void AddProblems(const std::vector<routing::PolicyProblem>& problems,
                 acd::v1::SetPolicyResponse* response);

// The request read, checked and, when sound, compiled: what the core would make of the request
// itself, made off the engine thread so that the core can take it in place
// of reading the request again. `problems` say why it is not sound (the core answers those with
// AnswerProblems); INVALID_ARGUMENT when it names no policy at all.
struct PolicyRequestPrepared {
  std::vector<routing::PolicyProblem> problems;
  std::shared_ptr<const routing::CompiledPolicy> compiled;  // set when there are no problems
  // SetPolicy's diff, from `diff_base` to `compiled`, made off the engine thread (DiffFrom). The
  // core answers it only while `diff_base` is still the policy in force, and makes its own
  // otherwise (another policy was applied in between). Unset: the core makes it.
  std::shared_ptr<const routing::CompiledPolicy> diff_base;
  std::string diff;
};
absl::StatusOr<PolicyRequestPrepared> PreparePolicyRequest(
    const acd::v1::SetPolicyRequest& request);

// Makes `prepared`'s diff from `running`, the policy in force as far as the caller knows
// (Engine::published_policy): its cost is that of the two policies' YAML (made here when not yet
// made, up to routing::kMaxPolicyBytes each) and of the diff (bounded: daemon/text_diff.h), paid
// on gRPC's thread instead of the engine's. A replay makes neither: no one reads its answer.
// Nothing when `running` is null or `prepared` has problems.
void DiffFrom(std::shared_ptr<const routing::CompiledPolicy> running,
              PolicyRequestPrepared& prepared);

// What SetPolicy answers for a policy with problems: they are listed in `response`, and the
// status is OK for a dry run, INVALID_ARGUMENT naming them otherwise (gRPC then sends the status
// alone).
absl::Status AnswerProblems(const acd::v1::SetPolicyRequest& request,
                            const std::vector<routing::PolicyProblem>& problems,
                            acd::v1::SetPolicyResponse* response);

}  // namespace acd::daemon

#endif  // ACD_DAEMON_POLICY_REQUEST_H_
