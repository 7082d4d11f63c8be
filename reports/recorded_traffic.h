// RecordTraffic reads what a what-if replays from a data dir's history over [from, to): the
// recorded traffic (routing/sim/trace.h: each call that entered, what it asked for, its wait,
// ring, talk and whether it hung up; each agent's logins, pauses and logouts, the agents found
// logged in at `from` first), the policy in force at `from`, and the recorded figures by the
// what-if's definitions (routing/sim/what_if.h), so that recorded and replayed compare.
//   absl::StatusOr<RecordedTraffic> r = RecordTraffic("/var/lib/acd", {from, to});
//   auto replay = routing::sim::ReplayTrace(r->trace, r->policy, 1);
#ifndef ACD_REPORTS_RECORDED_TRAFFIC_H_
#define ACD_REPORTS_RECORDED_TRAFFIC_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "reports/history_replay.h"
#include "routing/compiled_policy.h"
#include "routing/sim/trace.h"
#include "routing/sim/what_if.h"

namespace acd::reports {

struct RecordedTraffic {
  routing::sim::Trace trace;
  std::shared_ptr<const routing::CompiledPolicy> policy;  // in force at the span's start
  std::string policy_source;
  std::vector<routing::sim::WhatIfFigures> recorded;
  HistoryReplayed replayed;
  int policy_changes = 0;  // policies applied during the span (the replay keeps the first)
};

absl::StatusOr<RecordedTraffic> RecordTraffic(const std::string& data_dir, HistoryRange range);

}  // namespace acd::reports

#endif  // ACD_REPORTS_RECORDED_TRAFFIC_H_
