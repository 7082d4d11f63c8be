// Policy YAML reads the policy file into acd.v1.Policy and writes a Policy back as YAML, reporting
// every problem in the file with its field path and line, and remembering where each field came
// from so later checks (ValidatePolicy) can point at the right line too.
//   acd::v1::Policy policy;
//   std::vector<PolicyProblem> problems;
//   PolicySourceMap where;
//   if (!ParsePolicyYaml(text, &policy, &problems, &where)) {
//     return PolicyProblemsToStatus(problems, "policy.yaml");
//   }
//   std::vector<PolicyProblem> more = ValidatePolicy(policy);
//   where.Annotate(&more);  // checks that know only paths get lines too
//
// The dialect, driven by the proto schema through reflection (a new proto field needs no code
// here): messages are YAML mappings keyed by proto field names, repeated fields are sequences,
// enum values are written in lower case without the enum's prefix (`strategy: longest_idle` for
// STRATEGY_LONGEST_IDLE; the full name in any case is accepted too), and a key with no value
// (`aging_per_second:`) leaves the field unset. Proto map fields are sequences of
// `{key: ..., value: ...}` mappings; bytes fields are base64 text.
#ifndef ACD_ROUTING_POLICY_YAML_H_
#define ACD_ROUTING_POLICY_YAML_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "acd/v1/policy.pb.h"
#include "routing/policy_problem.h"

namespace acd::routing {

// Where each field of a parsed policy was written: field path ("queues[1].escalation[0]", as in
// PolicyProblem::path) -> 1-based (line, column) of the YAML node that produced the field. A
// scalar field points at its value; a message or repeated field points at its key; an element of
// a repeated field points at the element.
struct PolicySourceMap {
  absl::flat_hash_map<std::string, std::pair<int, int>> positions;

  // Fills line/column of each problem that has none (line 0) from the longest known prefix of its
  // path, so "queues[1].escalation[2].after_seconds" lands on the step when that field was left
  // out of the file. Problems that already carry a position keep it; a path with no known prefix
  // stays at 0.
  void Annotate(std::vector<PolicyProblem>* problems) const;
};

// Parses YAML text into `policy` (cleared first). Returns true on success. On failure returns false
// and appends every problem found, not just the first, to `problems`, each with path, line and
// column; `policy` then holds whatever parsed cleanly and must not be used. An empty document gives
// an empty Policy. `problems` may be null when only the verdict matters. When `source_map` is
// given it is cleared and receives the position of every field set.
bool ParsePolicyYaml(absl::string_view text, acd::v1::Policy* policy,
                     std::vector<PolicyProblem>* problems, PolicySourceMap* source_map = nullptr);

// The policy as YAML in the dialect above, block style, ending in a newline; ParsePolicyYaml reads
// it back to an equal Policy. Fields at their default are omitted, except presence-tracked (proto3
// `optional`) ones, which are written whenever set, even at zero. An empty policy is "{}\n".
// An enum number the schema does not define is written as the number, which the parser refuses.
std::string PolicyToYaml(const acd::v1::Policy& policy);

}  // namespace acd::routing

#endif  // ACD_ROUTING_POLICY_YAML_H_
