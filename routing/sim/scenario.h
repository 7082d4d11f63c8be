// Scenario is one acdsim run described in a YAML file: the policy to run, how long, the seed, the
// callers (arrival rates over the day, handle times, patience) and the agents (skills, shifts).
//   absl::StatusOr<Scenario> s = LoadScenarioFile("routing/sim/scenarios/mm100_rho95.yaml");
//   if (!s.ok()) { std::cerr << s.status().message(); return 2; }
// The format is described in routing/sim/README.md; every error names the file and the key.
#ifndef ACD_ROUTING_SIM_SCENARIO_H_
#define ACD_ROUTING_SIM_SCENARIO_H_

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "routing/types.h"

namespace acd::routing::sim {

// A distribution of durations in seconds.
struct Distribution {
  enum class Kind : uint8_t { kExponential, kLognormal, kConstant };
  Kind kind = Kind::kExponential;
  double mean_seconds = 0;
  double stddev_seconds = 0;  // lognormal only
};

// A draw from `d`; and the rest of one given that `so_far` seconds of it have passed.
double Sample(const Distribution& d, std::mt19937_64& random);
double SampleRest(const Distribution& d, double so_far, std::mt19937_64& random);

// From `from_seconds` on (within the schedule's period), callers arrive at `per_hour`.
struct RateStep {
  double from_seconds = 0;
  double per_hour = 0;
};

// One stream of callers into one queue.
struct Traffic {
  std::string queue;
  std::vector<RateStep> rates;           // sorted, the first from 0
  double repeat_seconds = 0;             // > 0: the schedule repeats with this period
  Distribution handle_time;              // talk time (wrap-up comes from the policy)
  std::optional<Distribution> patience;  // none: callers never hang up
  std::vector<NamedSkill> required_skills;
  std::string language;
  int priority = 0;
};

// `count` identical agents.
struct AgentGroup {
  std::string name;
  int count = 0;
  std::vector<NamedSkill> skills;
  std::vector<std::string> languages;
  // Logged in over [from, to) seconds after the start; empty: for the whole run.
  std::vector<std::pair<double, double>> shifts;
};

struct Scenario {
  std::string name;
  std::string policy_text;  // YAML of the policy
  std::string policy_name;  // its file, or "<scenario>:policy" when inline
  double hours = 0;         // measured, after the warm-up
  double warmup_hours = 0;
  uint64_t seed = 1;
  std::vector<Traffic> traffic;
  std::vector<AgentGroup> agents;
};

// Parses a scenario; `file_name` is used in messages and to resolve a relative policy path.
absl::StatusOr<Scenario> ParseScenario(absl::string_view yaml_text, const std::string& file_name);
absl::StatusOr<Scenario> LoadScenarioFile(const std::string& path);

}  // namespace acd::routing::sim

#endif  // ACD_ROUTING_SIM_SCENARIO_H_
