// The wallboard's JSON (/api/queues): every queue of the running policy with the figures its tile
// shows, read from the series the engine keeps. Built on the engine thread about once a second and
// published for the HTTP threads (AcdMetrics::PublishQueuesJson).
//   metrics.PublishQueuesJson(WallboardJson(router.policy(), metrics, now));
#ifndef ACD_METRICS_WALLBOARD_JSON_H_
#define ACD_METRICS_WALLBOARD_JSON_H_

#include <string>

#include "absl/time/time.h"
#include "metrics/acd_metrics.h"
#include "routing/compiled_policy.h"

namespace acd::metrics {

// REQUIRES: `metrics` holds the series of `policy` (AcdMetrics::SetQueues).
std::string WallboardJson(const routing::CompiledPolicy& policy, const AcdMetrics& metrics,
                          absl::Time now);

}  // namespace acd::metrics

#endif  // ACD_METRICS_WALLBOARD_JSON_H_
