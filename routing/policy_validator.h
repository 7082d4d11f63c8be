// ValidatePolicy checks a policy's meaning (the YAML loader has already checked its shape) and
// lists every problem with its field path and a message that says how to fix it: unknown skills
// or queues, proficiencies outside 1-5, escalation steps out of order or unreachable, overflow
// loops, missing fallbacks, values out of range. An empty list means the policy can be compiled.
//   std::vector<PolicyProblem> problems = ValidatePolicy(policy);
#ifndef ACD_ROUTING_POLICY_VALIDATOR_H_
#define ACD_ROUTING_POLICY_VALIDATOR_H_

#include <vector>

#include "acd/v1/policy.pb.h"
#include "routing/policy_problem.h"

namespace acd::routing {

inline constexpr int kMaxSkills = 1024;
inline constexpr int kMaxLanguages = 64;
inline constexpr int kMaxQueues = 4096;
inline constexpr int kMaxPriority = 1000;
inline constexpr double kMaxStepSeconds = 7 * 86400;

std::vector<PolicyProblem> ValidatePolicy(const acd::v1::Policy& policy);

}  // namespace acd::routing

#endif  // ACD_ROUTING_POLICY_VALIDATOR_H_
