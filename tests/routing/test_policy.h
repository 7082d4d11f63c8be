// Test helpers: a compiled policy from inline YAML, and times as "seconds after the start".
//   auto policy = PolicyFromYaml(R"(skills: [{name: sales}] queues: ...)");
//   Router router(policy, T(0));
#ifndef ACD_TESTS_ROUTING_TEST_POLICY_H_
#define ACD_TESTS_ROUTING_TEST_POLICY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "routing/compiled_policy.h"
#include "routing/policy_yaml.h"

namespace acd::routing::testing {

// Seconds after a fixed start; fractional seconds allowed.
inline absl::Time T(double seconds) {
  return absl::FromUnixSeconds(1'800'000'000) + absl::Seconds(seconds);
}

inline acd::v1::Policy ProtoFromYaml(const std::string& yaml) {
  acd::v1::Policy policy;
  std::vector<PolicyProblem> problems;
  if (!ParsePolicyYaml(yaml, &policy, &problems)) {
    ADD_FAILURE() << PolicyProblemsToStatus(problems).message();
  }
  return policy;
}

inline std::shared_ptr<const CompiledPolicy> PolicyFromYaml(const std::string& yaml) {
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> compiled = CompilePolicy(ProtoFromYaml(yaml));
  if (!compiled.ok()) {
    ADD_FAILURE() << compiled.status().message();
    return nullptr;
  }
  return *compiled;
}

}  // namespace acd::routing::testing

#endif  // ACD_TESTS_ROUTING_TEST_POLICY_H_
