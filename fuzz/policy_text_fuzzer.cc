// Policy text through everything acdd and acdpolicy do with a policy file: the YAML read
// (ParsePolicyYaml), the check of its meaning (ValidatePolicy), compiling, the description and the
// normalized YAML acdpolicy prints, and a router started on the result with agents and calls.
// Whatever the text, the answer is problems or a policy, never a crash, and:
//  - a refused policy has at least one problem, each with a message, path and message valid UTF-8;
//  - a policy that passes validation compiles;
//  - its normalized YAML reads back to the very same policy;
//  - a router on it keeps its invariants (Router::CheckInvariants) while calls arrive, ring, are
//    answered, transferred and ended, time passes through their deadlines and the policy reloads.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "acd/v1/policy.pb.h"
#include "fuzz/fuzz_support.h"
#include "google/protobuf/util/message_differencer.h"
#include "routing/compiled_policy.h"
#include "routing/policy_problem.h"
#include "routing/policy_text.h"
#include "routing/policy_validator.h"
#include "routing/policy_yaml.h"
#include "routing/quote.h"
#include "routing/router.h"

namespace acd::fuzz {
namespace {

using routing::Router;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);
constexpr int kMaxTimerRuns = 100;  // wake-ups a router is driven through, at most

void CheckProblems(const std::vector<routing::PolicyProblem>& problems) {
  if (problems.empty()) Fail("a policy was refused without a problem");
  for (const routing::PolicyProblem& p : problems) {
    if (p.message.empty()) Fail("a policy problem at '", p.path, "' has no message");
    if (!routing::IsValidUtf8(p.message) || !routing::IsValidUtf8(p.path)) {
      Fail("a policy problem is not valid UTF-8: ", routing::Quote(p.path), ": ",
           routing::Quote(p.message));
    }
  }
}

void RequireInvariants(const Router& router, absl::string_view after) {
  if (absl::Status s = router.CheckInvariants(); !s.ok()) Fail(after, ": ", s.message());
}

// A router on `policy`: an agent with every skill at the top who answers, one at the bottom who
// lets offers ring out, a call in every queue; then time runs through the deadlines, calls the
// first agent took are transferred once and then ended, and the policy is reloaded half way.
void DriveRouter(const std::shared_ptr<const routing::CompiledPolicy>& policy) {
  Router router(policy, kStart);
  router.KeepCallFacts(true);
  const char* const kAgents[] = {"top", "bottom"};
  for (const char* agent : kAgents) {
    routing::AgentSpec spec{.agent_id = agent, .languages = policy->languages, .ready = true};
    const int proficiency =
        agent == kAgents[0] ? routing::kMaxProficiency : routing::kMinProficiency;
    for (const std::string& skill : policy->skill_names)
      spec.skills.push_back({skill, proficiency});
    for (int c = 0; c < routing::kChannelCount; ++c) {
      const uint32_t max = std::min<uint32_t>(policy->agent_rules.max_capacity[c], 2);
      if (max > 0) spec.capacity.emplace_back(static_cast<routing::Channel>(c), max);
    }
    (void)router.Login(spec, kStart);
    RequireInvariants(router, absl::StrCat("login of ", agent));
  }
  int n = 0;
  for (const routing::CompiledQueue& queue : policy->queues) {
    routing::CallSpec call{.call_id = absl::StrCat("c", n++), .queue = queue.name};
    if (!policy->languages.empty() && n % 2 == 0) call.language = policy->languages[0];
    (void)router.Enqueue(call, kStart);
    RequireInvariants(router, absl::StrCat("enqueue in ", routing::Quote(queue.name)));
    if (n == 16) break;
  }
  std::vector<std::string> connected, transferred;
  for (int run = 0; run < kMaxTimerRuns; ++run) {
    for (const routing::Decision& d : router.TakeDecisions()) {
      if ((d.kind == routing::Decision::Kind::kOfferCall ||
           d.kind == routing::Decision::Kind::kStartCallback) &&
          d.agent_id == kAgents[0] &&
          router.OfferAccepted(d.call_id, d.agent_id, router.now()).ok()) {
        connected.push_back(d.call_id);
      }
    }
    (void)router.TakeCallFacts();
    RequireInvariants(router, "offers answered");
    for (const std::string& call : connected) {
      if (std::find(transferred.begin(), transferred.end(), call) == transferred.end()) {
        transferred.push_back(call);
        const routing::TransferTarget to{.queue = policy->queues[run % policy->queues.size()].name};
        (void)router.Transfer(call, kAgents[0], to, router.now());
      } else {
        (void)router.EndCall(call, router.now());
      }
      RequireInvariants(router, absl::StrCat("transfer or end of ", call));
    }
    connected.clear();
    if (run == kMaxTimerRuns / 2) {
      if (absl::Status s = router.ReplacePolicy(policy, router.now()); !s.ok()) {
        Fail("a router refused to reload its own policy: ", s.message());
      }
      RequireInvariants(router, "reload");
    }
    const std::optional<absl::Time> next = router.NextWakeup();
    if (!next) break;
    router.AdvanceTo(*next);
    RequireInvariants(router, absl::StrCat("timers due at ", absl::FormatTime(*next)));
  }
}

}  // namespace
}  // namespace acd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace acd;  // NOLINT: a harness's one function
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  v1::Policy policy;
  std::vector<routing::PolicyProblem> problems;
  routing::PolicySourceMap where;
  if (!routing::ParsePolicyYaml(text, &policy, &problems, &where)) {
    fuzz::CheckProblems(problems);
    return 0;
  }
  problems = routing::ValidatePolicy(policy);
  if (!problems.empty()) {
    where.Annotate(&problems);
    fuzz::CheckProblems(problems);
    return 0;
  }
  absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> compiled =
      routing::CompilePolicy(policy);
  if (!compiled.ok())
    fuzz::Fail("a policy that validates does not compile: ", compiled.status().message());
  (void)routing::DescribePolicy(**compiled);

  const std::string yaml = routing::PolicyToYaml(policy);
  v1::Policy again;
  if (!routing::ParsePolicyYaml(yaml, &again, &problems)) {
    fuzz::Fail("the normalized YAML of a valid policy does not read back: ",
               routing::FormatPolicyProblem(problems.front()), "\n", yaml);
  }
  if (!google::protobuf::util::MessageDifferencer::Equals(again, policy)) {
    fuzz::Fail("the normalized YAML of a valid policy reads back to another policy:\n", yaml);
  }
  fuzz::DriveRouter(*compiled);
  return 0;
}
