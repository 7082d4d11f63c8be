// acdsim --replay: the what-if on a data dir's recorded traffic (reports/recorded_traffic.h,
// routing/sim/what_if.h). Prints, per queue, the recorded figures, the replay under the policy
// that ran, and (with a candidate policy) the replay under it, side by side; or the same as one
// JSON object: {"from", "to", "calls", "agent_events", "recorded_policy", "candidate_policy",
// "queues": [{"name", "recorded", "replay_recorded_policy", "replay_candidate"}]}, each figures
// object {"offered", "answered", "abandoned", "sent_on", "service_level", "asa_seconds",
// "abandon_rate", "longest_wait_seconds", "occupancy"} (null: nothing to count).
//   acdsim --replay /var/lib/acd --from 2026-11-30 --policy candidate.yaml --json
#ifndef ACD_REPORTS_WHAT_IF_TOOL_H_
#define ACD_REPORTS_WHAT_IF_TOOL_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/time/time.h"

namespace acd::reports {

struct WhatIfRequest {
  std::string data_dir;
  absl::Time from = absl::InfinitePast();
  absl::Time to = absl::InfiniteFuture();
  std::string candidate_path;  // empty: only the replay under the recorded policy
  bool json = false;
  uint64_t seed = 1;
};

// Returns the exit status: 0 printed, 1 the data dir or the replay failed, 2 the candidate policy
// cannot be read or is invalid (every problem on `err`).
int RunWhatIf(const WhatIfRequest& request, std::ostream& out, std::ostream& err);

}  // namespace acd::reports

#endif  // ACD_REPORTS_WHAT_IF_TOOL_H_
