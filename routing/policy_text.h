// CompilePolicyText turns the text of a policy file into a compiled policy in one step: YAML shape,
// then meaning, every problem reported with "file:line:column: path: message". DefaultPolicyYaml
// is the built-in policy (deploy/policy.example.yaml, embedded at build time), used when no
// --policy is given.
//   auto policy = CompilePolicyText(text, "/etc/acd/policy.yaml");
//   if (!policy.ok()) { std::cerr << policy.status().message(); return 1; }
#ifndef ACD_ROUTING_POLICY_TEXT_H_
#define ACD_ROUTING_POLICY_TEXT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "routing/compiled_policy.h"

namespace acd::routing {

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompilePolicyText(
    absl::string_view yaml_text, const std::string& file_name);

absl::string_view DefaultPolicyYaml();
inline constexpr char kDefaultPolicyName[] = "<built-in deploy/policy.example.yaml>";

// A person-readable account of a compiled policy: queues, strategies, steps, targets.
std::string DescribePolicy(const CompiledPolicy& policy);

}  // namespace acd::routing

#endif  // ACD_ROUTING_POLICY_TEXT_H_
