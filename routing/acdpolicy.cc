// acdpolicy checks a routing policy file offline and describes it, so operations can see a policy
// is valid, and what it does, before a daemon loads it.
//   acdpolicy --policy deploy/policy.example.yaml     # summary, exit 0; or every problem, exit 1
//   acdpolicy --print_yaml                            # the built-in policy, normalized
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "routing/policy_text.h"
#include "routing/policy_yaml.h"

ABSL_FLAG(std::string, policy, "", "policy YAML file; empty: the built-in default policy");
ABSL_FLAG(bool, print_yaml, false, "print the policy back as normalized YAML instead of a summary");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Checks an acd routing policy and describes it.\n"
                               "  acdpolicy [--policy FILE] [--print_yaml]");
  absl::ParseCommandLine(argc, argv);
  const std::string path = absl::GetFlag(FLAGS_policy);
  std::string text;
  std::string name = acd::routing::kDefaultPolicyName;
  if (path.empty()) {
    text = std::string(acd::routing::DefaultPolicyYaml());
  } else {
    std::ifstream in(path);
    if (!in) {
      std::cerr << "acdpolicy: cannot read " << path << "\n";
      return 2;
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
    name = path;
  }
  auto policy = acd::routing::CompilePolicyText(text, name);
  if (!policy.ok()) {
    std::cerr << name << ": " << policy.status().message() << "\n";
    return 1;
  }
  if (absl::GetFlag(FLAGS_print_yaml)) {
    std::cout << acd::routing::PolicyToYaml((*policy)->source);
  } else {
    std::cout << name << ": valid\n" << acd::routing::DescribePolicy(**policy);
  }
  return 0;
}
