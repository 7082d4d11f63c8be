// The what-if on a data dir's recorded traffic (reports/recorded_traffic.h, routing/sim/what_if.h),
// for acdsim --replay and acdd's AdminService.WhatIf. Gives, per queue, the recorded figures, the
// replay under the policy that ran, and (with a candidate policy) the replay under it, side by
// side; or the same as one JSON object: {"from", "to", "calls", "agent_events", "recorded_policy",
// "candidate_policy", "queues": [{"name", "recorded", "replay_recorded_policy",
// "replay_candidate"}]}, each figures object {"offered", "answered", "abandoned", "sent_on",
// "service_level", "asa_seconds", "abandon_rate", "longest_wait_seconds", "occupancy"} (null:
// nothing to count).
//   acdsim --replay /var/lib/acd --from 2026-11-30 --policy candidate.yaml --json
#ifndef ACD_REPORTS_WHAT_IF_TOOL_H_
#define ACD_REPORTS_WHAT_IF_TOOL_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "routing/sim/what_if.h"

namespace acd::reports {

struct WhatIfRequest {
  std::string data_dir;
  absl::Time from = absl::InfinitePast();
  absl::Time to = absl::InfiniteFuture();
  std::string candidate_yaml;  // empty: only the replay under the recorded policy
  std::string candidate_name;  // its file, for messages and the output
  uint64_t seed = 1;
};

// One queue's three columns (a replay may lack a queue with no call in it).
struct WhatIfRow {
  std::string queue;
  std::optional<routing::sim::WhatIfFigures> recorded, replay, candidate;
};

struct WhatIfResult {
  std::string data_dir;
  absl::Time from, to;
  size_t calls = 0;
  size_t agent_events = 0;
  std::string recorded_policy;
  std::string candidate_policy;  // empty: none
  std::vector<WhatIfRow> rows;
  std::vector<std::string> notes;  // the history begins after `from`; the policy changed
};

// INVALID_ARGUMENT for a candidate that does not compile (every problem in the message); the
// data dir's errors as they come.
absl::StatusOr<WhatIfResult> WhatIf(const WhatIfRequest& request);
std::string WhatIfTable(const WhatIfResult& result);
std::string WhatIfJson(const WhatIfResult& result);

// acdsim --replay: reads the candidate from `candidate_path` (if any), prints the table or (with
// `json`) the JSON, notes on `err`. Returns the exit status: 0 printed, 1 the data dir or the
// replay failed, 2 the candidate cannot be read or is invalid.
int RunWhatIf(WhatIfRequest request, const std::string& candidate_path, bool json,
              std::ostream& out, std::ostream& err);

}  // namespace acd::reports

#endif  // ACD_REPORTS_WHAT_IF_TOOL_H_
